//! A form the engine (or the form's own reading) refused, drawn again on its page: which form,
//! what it said in the checklist's words, the field it concerns, the forms that fix it, and
//! what the person typed, kept. Built from the typed refusal (a gate's reason as data, the
//! organizations a consent is missing for), never from the engine's English.

use crate::error::{PageError, sentence};
use crate::words::{self, Names};
use askama::Template;
use carepath_engine::Engine;
use carepath_engine::Error;
use carepath_engine::domain::DecisionError;
use carepath_engine::pathway::Gate;

/// A form that changed nothing, and why.
pub struct Refusal {
    /// The form's id on its page (its `form` field).
    pub form: String,
    pub title: &'static str,
    pub message: String,
    /// The field the refusal concerns, when one does.
    pub field: Option<String>,
    /// Each reason (an unmet gate, a missing consent), with the form that fixes it.
    pub reasons: Vec<Reason>,
    /// What was typed, as sent (the page's own hidden fields left out).
    pub values: Vec<(String, String)>,
    /// The gates a move was refused for (its form's value, and the gate's name): what a
    /// supervisor may override, with a reason.
    pub gates: Vec<(&'static str, &'static str)>,
}

/// One reason a form was refused, with the form on the page that fixes it.
pub struct Reason {
    pub text: String,
    pub fix: Option<(&'static str, &'static str)>,
}

/// The page's own fields: not what the person typed.
const HIDDEN: [&str; 5] = ["csrf", "idem", "version", "back", "form"];

impl Refusal {
    /// The refusal of `form`, sent with `pairs`, for `error`.
    pub async fn of(
        engine: &Engine,
        error: &PageError,
        form: &str,
        pairs: &[(String, String)],
    ) -> Self {
        let (title, message) = error.words();
        let mut refusal = Refusal {
            form: form.to_owned(),
            title,
            message: words::name_orgs(engine, &message).await,
            field: None,
            reasons: Vec::new(),
            gates: Vec::new(),
            values: pairs
                .iter()
                .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
                .cloned()
                .collect(),
        };
        match error {
            PageError::Field { field, .. } => refusal.field = Some(field.clone()),
            PageError::Engine(Error::Rejected(DecisionError::GateUnmet { unmet })) => {
                let orgs = unmet.iter().filter_map(|g| g.reason.org());
                if let Ok(names) = Names::of(engine, orgs).await {
                    refusal.message =
                        "Not every gate of this move is met yet. Nothing was changed.".into();
                    refusal.reasons = unmet
                        .iter()
                        .map(|g| Reason {
                            text: format!(
                                "{}: {}",
                                words::gate_name(g.gate),
                                names.gate_reason(&g.reason)
                            ),
                            fix: gate_fix(g.gate),
                        })
                        .collect();
                }
                refusal.gates = unmet
                    .iter()
                    .map(|g| (g.gate.as_str(), words::gate_name(g.gate)))
                    .collect();
                refusal.field = Some(
                    match form {
                        "discharge" => "kind",
                        "admit" => "level",
                        _ => "move",
                    }
                    .into(),
                );
            }
            PageError::Engine(Error::Rejected(DecisionError::ConsentRequired { orgs })) => {
                if let Ok(names) = Names::of(engine, orgs.iter().copied()).await {
                    let named: Vec<String> = orgs.iter().map(|o| names.org(o)).collect();
                    refusal.message = format!(
                        "No Part 2 consent in force names {}: the record cannot go there. \
                         Nothing was changed.",
                        named.join(", ")
                    );
                }
                refusal.reasons = vec![Reason {
                    text: "Record a consent naming them first, then send again.".into(),
                    fix: Some(("#record-consent", "Record consent")),
                }];
                refusal.field = Some("provider".into());
            }
            PageError::Engine(Error::Conflict(_))
            | PageError::Engine(Error::Rejected(DecisionError::Conflict(_)))
                if is_stale(error) =>
            {
                refusal.message = "Someone changed this client's record after you opened the \
                                   page, so nothing was changed. The page now shows the record \
                                   as it is, with what you typed kept: check it and send again."
                    .into();
            }
            _ => {}
        }
        refusal.message = sentence(&refusal.message);
        refusal
    }

    /// The value sent for `name`, if this refusal is of `form`.
    pub fn value(&self, form: &str, name: &str) -> Option<&str> {
        (self.form == form)
            .then(|| {
                self.values
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            })
            .flatten()
    }

    /// Whether `value` was among those sent for `name` (checkboxes, selects).
    pub fn sent(&self, name: &str, value: &str) -> bool {
        self.values.iter().any(|(k, v)| k == name && v == value)
    }
}

fn is_stale(error: &PageError) -> bool {
    match error {
        PageError::Engine(Error::Conflict(_)) => true,
        PageError::Engine(Error::Rejected(d)) => d.is_stale_version(),
        _ => false,
    }
}

/// Whether a refusal is worth drawing the form again for: not one that says the form, the
/// record or the session is not the person's (those get the problem page, as before).
pub fn redraws(error: &PageError) -> bool {
    match error {
        PageError::SignIn | PageError::ForeignForm | PageError::Render(_) => false,
        PageError::Field { .. } => true,
        PageError::Engine(e) => match e {
            Error::Rejected(DecisionError::Forbidden(_) | DecisionError::NotFound { .. }) => false,
            Error::Rejected(_) | Error::BadInput(_) | Error::NoCapacity { .. } => true,
            Error::Conflict(_) => true,
            _ => false,
        },
    }
}

/// The form on a client's page that meets a gate (its anchor, and what to click).
pub fn gate_fix(g: Gate) -> Option<(&'static str, &'static str)> {
    Some(match g {
        Gate::AcceptedReferral => ("#send-referral", "Send a referral"),
        Gate::Consent => ("#record-consent", "Record consent"),
        Gate::AftercareAppointment => ("#book-aftercare", "Book aftercare"),
        Gate::MatContinuity => ("#book-refill", "Book the refill"),
        Gate::Reassessment => ("#record-assessment", "Record an assessment"),
    })
}

/// The refusal said next to the field it concerns (or at the top of its form).
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<div class="refused" role="alert" id="{{ id }}"><p><strong>{{ r.title }}.</strong> {{ r.message }}</p>{% if !r.reasons.is_empty() %}<ul>{% for x in r.reasons %}<li>{{ x.text }}{% if let Some((href, label)) = x.fix %} <a class="button secondary" href="{{ href }}">{{ label }}</a>{% endif %}</li>{% endfor %}</ul>{% endif %}</div>"#
)]
pub struct Note<'a> {
    pub id: String,
    pub r: &'a Refusal,
}
