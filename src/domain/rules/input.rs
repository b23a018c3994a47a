//! What a rule reads: [`RuleInput`], built from a lead being ingested or from a stored cycle,
//! so that evaluating a rule is one code path for both.

use serde_json::{Map, Value};

use super::{CompanyField, Fact, FieldRef, LeadField, Val};
use crate::domain::{account_key, lead_input::Company, lead_input::NewLead};

/// The three facts ingest finds out about a lead (the backtest reads them from the log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// A possible duplicate was found.
    pub duplicate_found: bool,
    /// The email is at a free-mail or disposable provider.
    pub free_mail: bool,
    /// The lead's account was accepted (sales is working it) when the lead was routed.
    pub account_accepted: bool,
}

/// A lead as a rule sees it. Borrowed: building one copies nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleInput<'a> {
    pub source: Option<&'a str>,
    pub lead_type: Option<&'a str>,
    pub email: Option<&'a str>,
    pub title: Option<&'a str>,
    pub score: Option<f64>,
    pub campaign: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub queue: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub company: Option<&'a Company>,
    pub attributes: Option<&'a Map<String, Value>>,
    pub facts: Facts,
}

/// One stored cycle with what the backtest read of it: the columns the rule uses (the others
/// `None`) and the facts as the log holds them.
#[derive(Debug, Clone, Default)]
pub struct PastCycle {
    pub source: Option<String>,
    pub lead_type: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub score: Option<f64>,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<Company>,
    pub attributes: Option<Map<String, Value>>,
    pub duplicate_found: bool,
    pub account_accepted: bool,
}

impl<'a> RuleInput<'a> {
    /// A lead being ingested. `attributes`: its attributes parsed, when a rule reads them
    /// (`NewLead` keeps them as raw JSON).
    pub fn of_lead(
        lead: &'a NewLead,
        attributes: Option<&'a Map<String, Value>>,
        facts: Facts,
    ) -> RuleInput<'a> {
        RuleInput {
            source: Some(&lead.source),
            lead_type: Some(&lead.lead_type),
            email: lead.email.as_deref(),
            title: lead.title.as_deref(),
            score: lead.score,
            campaign: lead.campaign.as_deref(),
            channel: lead.channel.as_deref(),
            queue: lead.queue.as_deref(),
            owner: lead.owner.as_deref(),
            first_name: lead.first_name.as_deref(),
            last_name: lead.last_name.as_deref(),
            phone: lead.phone.as_deref(),
            company: lead.company.as_ref(),
            attributes,
            facts,
        }
    }

    /// A stored cycle (the backtest). `free_mail` is computed from the stored email as ingest
    /// computes it.
    pub fn of_cycle(c: &'a PastCycle) -> RuleInput<'a> {
        RuleInput {
            source: c.source.as_deref(),
            lead_type: c.lead_type.as_deref(),
            email: c.email.as_deref(),
            title: c.title.as_deref(),
            score: c.score,
            campaign: c.campaign.as_deref(),
            channel: c.channel.as_deref(),
            queue: c.queue.as_deref(),
            owner: c.owner.as_deref(),
            first_name: c.first_name.as_deref(),
            last_name: c.last_name.as_deref(),
            phone: c.phone.as_deref(),
            company: c.company.as_ref(),
            attributes: c.attributes.as_ref(),
            facts: Facts {
                duplicate_found: c.duplicate_found,
                free_mail: account_key::email_is_free_mail(c.email.as_deref()),
                account_accepted: c.account_accepted,
            },
        }
    }

    /// The value of `field`.
    pub(super) fn value(&self, field: &FieldRef) -> Val<'a> {
        match field {
            FieldRef::Lead(f) => self.lead_value(*f),
            FieldRef::Company(f) => self.company_value(*f),
            FieldRef::Attribute(k) => Val::of_json(self.attributes.and_then(|a| a.get(k))),
            FieldRef::Fact(f) => Val::Bool(match f {
                Fact::DuplicateFound => self.facts.duplicate_found,
                Fact::FreeMail => self.facts.free_mail,
                Fact::AccountAccepted => self.facts.account_accepted,
            }),
        }
    }

    fn lead_value(&self, f: LeadField) -> Val<'a> {
        let s = match f {
            LeadField::Score => return self.score.map_or(Val::Missing, Val::Num),
            LeadField::Source => self.source,
            LeadField::LeadType => self.lead_type,
            LeadField::Email => self.email,
            LeadField::Title => self.title,
            LeadField::Campaign => self.campaign,
            LeadField::Channel => self.channel,
            LeadField::Queue => self.queue,
            LeadField::Owner => self.owner,
            LeadField::FirstName => self.first_name,
            LeadField::LastName => self.last_name,
            LeadField::Phone => self.phone,
        };
        Val::of_str(s)
    }

    fn company_value(&self, f: CompanyField) -> Val<'a> {
        let Some(c) = self.company else {
            return Val::Missing;
        };
        let s = match f {
            CompanyField::Size => return Val::of_json(c.size.as_ref()),
            CompanyField::Name => &c.name,
            CompanyField::Domain => &c.domain,
            CompanyField::Industry => &c.industry,
            CompanyField::Country => &c.country,
            CompanyField::Region => &c.region,
        };
        Val::of_str(s.as_deref())
    }
}
