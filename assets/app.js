// salgate pages: small enhancements over plain HTML forms (the pages work without this file).
"use strict";
