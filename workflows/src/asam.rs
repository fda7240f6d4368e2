//! What the ASAM Criteria say that a pathway file must agree with: the weekly clinical hours
//! per 3rd-edition level (so that a pathway cannot call a 25-hour program "IOP"), and which
//! 4th-edition codes exist. Source: the ASAM Criteria, as docs/domain.md sums them up.

use carepath_domain::pathway::HoursBand;

/// The hours constraint a 3rd-edition code puts on a level's band, if the code is known.
/// `None` for an unknown code; `Some(None)` for a known code with no hours rule (24-hour care).
///
/// These are the only hours rules; each states its source.
pub(crate) fn hours_rule(code: &str) -> Option<Option<HoursRule>> {
    Some(match code {
        "0.5" => None,
        // Level 1: under 9 hours a week (adults).
        c if is_outpatient(c) => Some(HoursRule {
            min: None,
            max_below: Some(9.0),
            max: None,
        }),
        // Level 2.1: 9-19 hours a week in the 3rd edition (adults; adolescents 6+). Programs
        // describe IOP as "9 to 20 hours a week" (issue 13), so the band may reach 20 — the
        // hour on which 2.1 and 2.5 meet, either of which may claim it — and no further:
        // 21 hours and more is partial hospitalization.
        "2.1" => Some(HoursRule {
            min: Some(6.0),
            max_below: None,
            max: Some(20.0),
        }),
        // Level 2.5: 20 hours a week or more.
        "2.5" => Some(HoursRule {
            min: Some(20.0),
            max_below: None,
            max: None,
        }),
        // Level 3.1: 5 hours of clinical service a week or more.
        "3.1" => Some(HoursRule {
            min: Some(5.0),
            max_below: None,
            max: None,
        }),
        "3.3" | "3.5" | "3.7" | "4" | "4.0" => None,
        "1-WM" | "2-WM" | "3.2-WM" | "3.7-WM" | "4-WM" => None,
        _ => return None,
    })
}

/// Whether care at a 3rd-edition level has medical personnel (nurses, physicians) on hand:
/// withdrawal management (`-WM`), 3.7 medically monitored and 4 medically managed intensive
/// inpatient. Clinically managed levels (3.1, 3.3, 3.5) and outpatient care (0.5 to 2.5)
/// have none (ASAM; shared/DOMAIN.md).
pub(crate) fn asam3_has_medical_personnel(code: &str) -> bool {
    code.ends_with("-WM") || matches!(code, "3.7" | "4" | "4.0")
}

/// As [`asam3_has_medical_personnel`] for a 4th-edition code: the medically managed levels
/// 1.7, 2.7, 3.7 and 4 (the 4th edition folds withdrawal management into them).
pub(crate) fn asam4_has_medical_personnel(code: &str) -> bool {
    matches!(code, "1.7" | "2.7" | "3.7" | "4")
}

/// Whether a 3rd-edition code is level 1, outpatient (under 9 hours a week).
pub(crate) fn is_outpatient(code: &str) -> bool {
    matches!(code, "1" | "1.0")
}

/// The ASAM Criteria 4th-edition (2023) codes. The 4th edition folds withdrawal management
/// into the levels, so there is no `-WM` code; 1.0 is long-term remission monitoring and
/// outpatient therapy is 1.5 (3rd-edition level 1 is 1.5, not 1.0).
pub(crate) const ASAM4_CODES: [&str; 10] = [
    "1.0", // long-term remission monitoring
    "1.5", // outpatient therapy
    "1.7", // medically managed outpatient
    "2.1", // intensive outpatient
    "2.5", // high-intensity outpatient (the old PHP)
    "2.7", // medically managed intensive outpatient
    "3.1", // clinically managed low-intensity residential
    "3.5", // clinically managed high-intensity residential
    "3.7", // medically managed residential
    "4",   // medically managed inpatient
];

pub(crate) fn is_asam4_code(code: &str) -> bool {
    ASAM4_CODES.contains(&code)
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct HoursRule {
    /// The band starts at this many hours a week or more.
    pub min: Option<f32>,
    /// The band stays under this many hours a week.
    pub max_below: Option<f32>,
    /// The band reaches at most this many hours a week.
    pub max: Option<f32>,
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
        if let Some(max) = self.max
            && band.max > max
        {
            return Some(format!(
                "weekly hours {band} contradict ASAM {code}, which is at most {max} h/week"
            ));
        }
        None
    }
}
