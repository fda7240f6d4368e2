//! What the ASAM Criteria (3rd edition) say about weekly clinical hours per level, so that a
//! pathway cannot call a 25-hour program "IOP". Source: shared/DOMAIN.md.

use carepath_domain::pathway::HoursBand;

/// The hours constraint a 3rd-edition code puts on a level's band, if the code is known.
/// `None` for an unknown code; `Some(None)` for a known code with no hours rule (24-hour care).
pub(crate) fn hours_rule(code: &str) -> Option<Option<HoursRule>> {
    Some(match code {
        "0.5" => None,
        // Level 1: under 9 hours a week (adults).
        "1" | "1.0" => Some(HoursRule {
            min: None,
            max_below: Some(9.0),
        }),
        // Level 2.1: 9-19 hours a week (adults; adolescents 6+).
        "2.1" => Some(HoursRule {
            min: Some(6.0),
            max_below: Some(20.0),
        }),
        // Level 2.5: 20 hours a week or more.
        "2.5" => Some(HoursRule {
            min: Some(20.0),
            max_below: None,
        }),
        // Level 3.1: 5 hours of clinical service a week or more.
        "3.1" => Some(HoursRule {
            min: Some(5.0),
            max_below: None,
        }),
        "3.3" | "3.5" | "3.7" | "4" | "4.0" => None,
        "1-WM" | "2-WM" | "3.2-WM" | "3.7-WM" | "4-WM" => None,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct HoursRule {
    pub min: Option<f32>,
    pub max_below: Option<f32>,
}

impl HoursRule {
    /// Why `band` contradicts this rule, if it does.
    pub fn contradiction(&self, code: &str, band: &HoursBand) -> Option<String> {
        if let Some(min) = self.min
            && band.min < min
        {
            return Some(format!(
                "weekly hours {band} contradict ASAM {code}, which needs at least {min} h/week"
            ));
        }
        if let Some(max) = self.max_below
            && band.max >= max
        {
            return Some(format!(
                "weekly hours {band} contradict ASAM {code}, which is under {max} h/week"
            ));
        }
        None
    }
}
