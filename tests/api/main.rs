// API tests (in progress)
