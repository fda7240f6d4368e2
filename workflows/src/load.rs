//! Reading and validating a pathway file. Every problem is reported with the file, the line and
//! the item it concerns, and all problems are reported at once.

use crate::asam;
use carepath_domain::pathway::*;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// One problem in a pathway file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathwayError {
    pub file: String,
    pub line: usize,
    /// What the problem is about, e.g. `level "iop"` or `transition #3`.
    pub item: String,
    pub message: String,
}

impl fmt::Display for PathwayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.item, self.message
        )
    }
}

/// Everything wrong with a pathway file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PathwayErrors(pub Vec<PathwayError>);

impl fmt::Display for PathwayErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Read and validate a pathway file.
pub fn load_file(path: &Path) -> Result<Pathway, PathwayErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        PathwayErrors(vec![PathwayError {
            file: name.clone(),
            line: 0,
            item: "file".into(),
            message: format!("cannot be read: {e}"),
        }])
    })?;
    parse(&name, &text)
}

/// Parse and validate a pathway from TOML text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Pathway, PathwayErrors> {
    let lines = LineIndex::new(text);
    let raw: RawPathway = toml::from_str(text).map_err(|e| {
        PathwayErrors(vec![PathwayError {
            file: file.to_owned(),
            line: e.span().map(|s| lines.line(s.start)).unwrap_or(0),
            item: "syntax".into(),
            message: e.message().to_owned(),
        }])
    })?;
    Validator {
        file,
        lines: &lines,
        errors: Vec::new(),
    }
    .run(raw)
}

struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        Self(
            text.char_indices()
                .filter(|(_, c)| *c == '\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }
    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPathway {
    pathway: RawHeader,
    settings: Option<Spanned<RawSettings>>,
    #[serde(default)]
    levels: Vec<Spanned<RawLevel>>,
    admission: Option<Spanned<RawAdmission>>,
    #[serde(default)]
    transitions: Vec<Spanned<RawTransition>>,
    #[serde(default)]
    discharges: Vec<Spanned<RawDischarge>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: String,
    name: String,
    #[serde(default = "one")]
    version: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    referral_answer_hours: Option<u32>,
    hold_hours: Option<u32>,
    arrival_days: Option<u32>,
    transfer_arrival_days: Option<u32>,
    lost_to_care_days: Option<u32>,
    aftercare_window_days: Option<u32>,
    reassessment_max_age_days: Option<u32>,
    xr_naltrexone_interval_days: Option<u32>,
    followup_days: Option<Vec<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    asam3: Vec<Spanned<String>>,
    #[serde(default)]
    asam4: Vec<Spanned<String>>,
    weekly_hours: Spanned<RawBand>,
    review_interval_days: Spanned<u32>,
    #[serde(default)]
    aliases: Vec<String>,
    referral_answer_hours: Option<Spanned<u32>>,
    hold_hours: Option<Spanned<u32>>,
    arrival_days: Option<Spanned<u32>>,
    #[serde(default)]
    followup_on_exit: bool,
    medical_personnel: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    min: f32,
    max: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmission {
    levels: Vec<Spanned<String>>,
    #[serde(default)]
    gates: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    kind: Spanned<String>,
    from: Spanned<String>,
    to: Vec<Spanned<String>>,
    #[serde(default)]
    gates: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDischarge {
    kind: Spanned<String>,
    from: Vec<Spanned<String>>,
    #[serde(default)]
    gates: Vec<Spanned<String>>,
}

/// The pseudo-level a readmission starts from.
const DISCHARGED: &str = "discharged";
/// "Every level", in a discharge's `from`.
const EVERY_LEVEL: &str = "*";

struct Validator<'a> {
    file: &'a str,
    lines: &'a LineIndex,
    errors: Vec<PathwayError>,
}

impl Validator<'_> {
    fn err(&mut self, offset: usize, item: impl Into<String>, message: impl Into<String>) {
        self.errors.push(PathwayError {
            file: self.file.to_owned(),
            line: self.lines.line(offset),
            item: item.into(),
            message: message.into(),
        });
    }

    fn gates(&mut self, raw: &[Spanned<String>], item: &str) -> Vec<Gate> {
        let mut out = Vec::new();
        for g in raw {
            match Gate::parse(g.get_ref()) {
                Some(gate) if out.contains(&gate) => self.err(
                    g.span().start,
                    item,
                    format!("gate \"{gate}\" listed twice"),
                ),
                Some(gate) => out.push(gate),
                None => self.err(
                    g.span().start,
                    item,
                    format!(
                        "unknown gate \"{}\" (known: {})",
                        g.get_ref(),
                        Gate::ALL.map(Gate::as_str).join(", ")
                    ),
                ),
            }
        }
        out
    }

    fn level_ref(
        &mut self,
        known: &BTreeMap<String, usize>,
        raw: &Spanned<String>,
        item: &str,
    ) -> Option<LevelId> {
        if known.contains_key(raw.get_ref()) {
            Some(LevelId::new(raw.get_ref().clone()))
        } else {
            self.err(
                raw.span().start,
                item,
                format!("unknown level \"{}\"", raw.get_ref()),
            );
            None
        }
    }

    fn run(mut self, raw: RawPathway) -> Result<Pathway, PathwayErrors> {
        let settings = self.settings(raw.settings.as_ref());

        // Levels.
        let mut known: BTreeMap<String, usize> = BTreeMap::new();
        // Each 4th-edition code, with the level that claimed it first and on which line.
        let mut asam4_claims: BTreeMap<String, (String, usize)> = BTreeMap::new();
        let mut levels = Vec::new();
        for raw_level in &raw.levels {
            let start = raw_level.span().start;
            let l = raw_level.get_ref();
            let id = l.id.get_ref().clone();
            let item = format!("level \"{id}\"");
            if id.is_empty() || id == DISCHARGED || id == EVERY_LEVEL {
                self.err(l.id.span().start, &item, "is a reserved or empty level id");
                continue;
            }
            if let Some(first) = known.get(&id) {
                let first = *first;
                self.err(
                    l.id.span().start,
                    &item,
                    format!("duplicate level (first defined on line {first})"),
                );
                continue;
            }
            known.insert(id.clone(), self.lines.line(start));
            let band = l.weekly_hours.get_ref();
            let band = HoursBand {
                min: band.min,
                max: band.max,
            };
            let band_at = l.weekly_hours.span().start;
            if !(band.min >= 0.0 && band.min <= band.max && band.max <= 168.0) {
                self.err(
                    band_at,
                    &item,
                    format!("weekly hours {band} are not a band within 0-168"),
                );
            }
            if l.asam3.is_empty() {
                self.err(start, &item, "names no ASAM 3rd-edition code (asam3)");
            }
            for code in &l.asam3 {
                match asam::hours_rule(code.get_ref()) {
                    None => self.err(
                        code.span().start,
                        &item,
                        format!("unknown ASAM 3rd-edition code \"{}\"", code.get_ref()),
                    ),
                    Some(Some(rule)) => {
                        if let Some(why) = rule.contradiction(code.get_ref(), &band) {
                            self.err(band_at, &item, why);
                        }
                    }
                    Some(None) => {}
                }
            }
            for code in &l.asam4 {
                let at = code.span().start;
                let code = code.get_ref();
                if !asam::is_asam4_code(code) {
                    self.err(
                        at,
                        &item,
                        format!(
                            "unknown ASAM 4th-edition code \"{code}\" (known: {})",
                            asam::ASAM4_CODES.join(", ")
                        ),
                    );
                    continue;
                }
                match asam4_claims.get(code) {
                    Some((other, line)) if *other == id => {
                        let line = *line;
                        self.err(
                            at,
                            &item,
                            format!(
                                "ASAM 4th-edition code \"{code}\" listed twice (first on line {line})"
                            ),
                        );
                    }
                    Some((other, line)) => {
                        let msg = format!(
                            "ASAM 4th-edition code \"{code}\" is already claimed by level \"{other}\" \
                             (line {line}): a 4th-edition code belongs to one level of a pathway"
                        );
                        self.err(at, &item, msg);
                    }
                    None => {
                        asam4_claims.insert(code.clone(), (id.clone(), self.lines.line(at)));
                    }
                }
            }
            let medical_personnel = l.medical_personnel.as_ref().is_some_and(|m| *m.get_ref());
            if let Some(m) = l.medical_personnel.as_ref().filter(|m| *m.get_ref()) {
                let without = l
                    .asam3
                    .iter()
                    .map(|c| c.get_ref())
                    .find(|c| !asam::asam3_has_medical_personnel(c))
                    .map(|c| format!("ASAM {c}"))
                    .or_else(|| {
                        l.asam4
                            .iter()
                            .map(|c| c.get_ref())
                            .find(|c| !asam::asam4_has_medical_personnel(c))
                            .map(|c| format!("ASAM 4th-edition {c}"))
                    });
                if let Some(code) = without {
                    self.err(
                        m.span().start,
                        &item,
                        format!(
                            "medical_personnel = true, but {code} is care without medical \
                             personnel: only withdrawal management, 3.7 and 4 have them"
                        ),
                    );
                }
            }
            if *l.review_interval_days.get_ref() == 0 {
                self.err(
                    l.review_interval_days.span().start,
                    &item,
                    "review_interval_days must be at least 1",
                );
            }
            let mut at_least_one = |v: &Option<Spanned<u32>>, name: &str, default: u32| match v {
                Some(v) if *v.get_ref() == 0 => {
                    self.err(v.span().start, &item, format!("{name} must be at least 1"));
                    default
                }
                Some(v) => *v.get_ref(),
                None => default,
            };
            let referral_answer_hours = at_least_one(
                &l.referral_answer_hours,
                "referral_answer_hours",
                settings.referral_answer_hours,
            );
            let hold_hours = at_least_one(&l.hold_hours, "hold_hours", settings.hold_hours);
            let arrival_days = at_least_one(&l.arrival_days, "arrival_days", settings.arrival_days);
            levels.push(Level {
                id: LevelId::new(id),
                name: l.name.clone(),
                asam3: l.asam3.iter().map(|c| c.get_ref().clone()).collect(),
                asam4: l.asam4.iter().map(|c| c.get_ref().clone()).collect(),
                weekly_hours: band,
                review_interval_days: *l.review_interval_days.get_ref(),
                aliases: l.aliases.clone(),
                referral_answer_hours,
                hold_hours,
                arrival_days,
                followup_on_exit: l.followup_on_exit,
                medical_personnel,
            });
        }
        if levels.is_empty() && raw.levels.is_empty() {
            self.err(0, "levels", "the pathway defines no level");
        }

        // Admission.
        let (admission_levels, admission_gates) = match &raw.admission {
            None => {
                self.err(
                    0,
                    "admission",
                    "missing [admission] (which levels a client may enter)",
                );
                (Vec::new(), Vec::new())
            }
            Some(a) => {
                let a_ref = a.get_ref();
                let levels: Vec<LevelId> = a_ref
                    .levels
                    .iter()
                    .filter_map(|l| self.level_ref(&known, l, "admission"))
                    .collect();
                if a_ref.levels.is_empty() {
                    self.err(a.span().start, "admission", "lists no level");
                }
                let gates = self.gates(&a_ref.gates, "admission");
                (levels, gates)
            }
        };

        // Transitions.
        let mut transitions = Vec::new();
        for (i, raw_t) in raw.transitions.iter().enumerate() {
            let t = raw_t.get_ref();
            let item = format!(
                "transition #{} ({} from {})",
                i + 1,
                t.kind.get_ref(),
                t.from.get_ref()
            );
            let kind = TransitionKind::parse(t.kind.get_ref());
            if kind.is_none() {
                self.err(
                    t.kind.span().start,
                    &item,
                    format!(
                        "unknown transition kind \"{}\" (known: {})",
                        t.kind.get_ref(),
                        TransitionKind::ALL.map(TransitionKind::as_str).join(", ")
                    ),
                );
            }
            let from = if t.from.get_ref() == DISCHARGED {
                if kind.is_some() && kind != Some(TransitionKind::Readmission) {
                    self.err(
                        t.from.span().start,
                        &item,
                        "only a readmission starts from \"discharged\"",
                    );
                }
                None
            } else {
                if kind == Some(TransitionKind::Readmission) {
                    self.err(
                        t.from.span().start,
                        &item,
                        "a readmission starts from \"discharged\"",
                    );
                }
                self.level_ref(&known, &t.from, &item)
            };
            if t.to.is_empty() {
                self.err(
                    raw_t.span().start,
                    &item,
                    "transition to nowhere: `to` is empty",
                );
            }
            let to: Vec<LevelId> =
                t.to.iter()
                    .filter_map(|l| self.level_ref(&known, l, &item))
                    .collect();
            if kind == Some(TransitionKind::Lateral)
                && let Some(from) = &from
                && to.iter().any(|l| l != from)
            {
                self.err(
                    t.kind.span().start,
                    &item,
                    "a lateral move stays at its level: `to` must be the `from` level",
                );
            }
            if kind != Some(TransitionKind::Lateral)
                && let Some(from) = &from
                && to.contains(from)
            {
                self.err(
                    raw_t.span().start,
                    &item,
                    "moves to its own level: use a lateral transition",
                );
            }
            let gates = self.gates(&t.gates, &item);
            // A step-down to outpatient (ASAM 1) trades daily or 24-hour care for weekly
            // visits: the first visit is booked before the move, whichever level it leaves
            // (the client stays "directly connected", 105 CMR 164.075; docs/domain.md).
            if kind == Some(TransitionKind::StepDown)
                && !gates.contains(&Gate::AftercareAppointment)
            {
                for to in &t.to {
                    let outpatient = levels.iter().any(|l| {
                        l.id.as_str() == to.get_ref()
                            && l.asam3.iter().any(|c| asam::is_outpatient(c))
                    });
                    if outpatient {
                        self.err(
                            to.span().start,
                            &item,
                            format!(
                                "a step-down to \"{}\" (ASAM 1, outpatient) needs the \
                                 aftercare_appointment gate: the first visit is booked before \
                                 the move (a rule of its own if the other targets need none)",
                                to.get_ref()
                            ),
                        );
                    }
                }
            }
            if let Some(kind) = kind {
                transitions.push(TransitionRule {
                    kind,
                    from,
                    to,
                    gates,
                });
            }
        }

        // Discharges.
        let mut discharges = Vec::new();
        for (i, raw_d) in raw.discharges.iter().enumerate() {
            let d = raw_d.get_ref();
            let item = format!("discharge #{} ({})", i + 1, d.kind.get_ref());
            let kind = DischargeKind::parse(d.kind.get_ref());
            if kind.is_none() {
                self.err(
                    d.kind.span().start,
                    &item,
                    format!(
                        "unknown discharge kind \"{}\" (known: {})",
                        d.kind.get_ref(),
                        DischargeKind::ALL.map(DischargeKind::as_str).join(", ")
                    ),
                );
            }
            let from: Vec<LevelId> = if d.from.iter().any(|f| f.get_ref() == EVERY_LEVEL) {
                levels.iter().map(|l| l.id.clone()).collect()
            } else {
                d.from
                    .iter()
                    .filter_map(|l| self.level_ref(&known, l, &item))
                    .collect()
            };
            if d.from.is_empty() {
                self.err(raw_d.span().start, &item, "`from` lists no level");
            }
            let gates = self.gates(&d.gates, &item);
            if let Some(kind) = kind {
                if kind.is_unplanned() && !gates.is_empty() {
                    self.err(
                        raw_d.span().start,
                        &item,
                        "an unplanned discharge is never blocked: it may require no gate",
                    );
                }
                discharges.push(DischargeRule { kind, from, gates });
            }
        }

        // Reachability: every level can be entered, and every level can be left.
        for (raw_level, level) in raw.levels.iter().zip(&levels) {
            let reachable = admission_levels.contains(&level.id)
                || transitions
                    .iter()
                    .any(|t| t.to.contains(&level.id) && t.from.as_ref() != Some(&level.id));
            if !reachable {
                self.err(
                    raw_level.span().start,
                    format!("level \"{}\"", level.id),
                    "unreachable: not an admission level and no transition leads to it",
                );
            }
            let leavable = transitions.iter().any(|t| {
                t.from.as_ref() == Some(&level.id) && t.to.iter().any(|to| to != &level.id)
            }) || discharges.iter().any(|d| d.from.contains(&level.id));
            if !leavable {
                self.err(
                    raw_level.span().start,
                    format!("level \"{}\"", level.id),
                    "a dead end: no transition or discharge leaves it",
                );
            }
        }
        if !discharges.iter().any(|d| d.kind == DischargeKind::Planned) {
            self.err(0, "discharges", "no planned discharge is defined");
        }

        if !self.errors.is_empty() {
            self.errors.sort_by_key(|e| e.line);
            return Err(PathwayErrors(self.errors));
        }
        Ok(Pathway::new(
            raw.pathway.id,
            raw.pathway.name,
            raw.pathway.version,
            settings,
            levels,
            admission_levels,
            admission_gates,
            transitions,
            discharges,
        ))
    }

    fn settings(&mut self, raw: Option<&Spanned<RawSettings>>) -> Settings {
        let defaults = Settings {
            referral_answer_hours: 24,
            hold_hours: 72,
            arrival_days: 3,
            transfer_arrival_days: 7,
            lost_to_care_days: 14,
            aftercare_window_days: 7,
            reassessment_max_age_days: 30,
            xr_naltrexone_interval_days: 28,
            followup_days: vec![7, 30],
        };
        let Some(raw) = raw else { return defaults };
        let at = raw.span().start;
        let r = raw.get_ref();
        let s = Settings {
            referral_answer_hours: r
                .referral_answer_hours
                .unwrap_or(defaults.referral_answer_hours),
            hold_hours: r.hold_hours.unwrap_or(defaults.hold_hours),
            arrival_days: r.arrival_days.unwrap_or(defaults.arrival_days),
            transfer_arrival_days: r
                .transfer_arrival_days
                .unwrap_or(defaults.transfer_arrival_days),
            lost_to_care_days: r.lost_to_care_days.unwrap_or(defaults.lost_to_care_days),
            aftercare_window_days: r
                .aftercare_window_days
                .unwrap_or(defaults.aftercare_window_days),
            reassessment_max_age_days: r
                .reassessment_max_age_days
                .unwrap_or(defaults.reassessment_max_age_days),
            xr_naltrexone_interval_days: r
                .xr_naltrexone_interval_days
                .unwrap_or(defaults.xr_naltrexone_interval_days),
            followup_days: r.followup_days.clone().unwrap_or(defaults.followup_days),
        };
        for (name, v) in [
            ("referral_answer_hours", s.referral_answer_hours),
            ("hold_hours", s.hold_hours),
            ("arrival_days", s.arrival_days),
            ("transfer_arrival_days", s.transfer_arrival_days),
            ("lost_to_care_days", s.lost_to_care_days),
            ("reassessment_max_age_days", s.reassessment_max_age_days),
            ("xr_naltrexone_interval_days", s.xr_naltrexone_interval_days),
        ] {
            if v == 0 {
                self.err(at, "settings", format!("{name} must be at least 1"));
            }
        }
        let distinct: BTreeSet<_> = s.followup_days.iter().collect();
        if s.followup_days.contains(&0) || distinct.len() != s.followup_days.len() {
            self.err(
                at,
                "settings",
                "followup_days must be distinct and at least 1",
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[pathway]
id = "t"
name = "test"

[[levels]]
id = "iop"
name = "IOP"
asam3 = ["2.1"]
weekly_hours = { min = 9, max = 19 }
review_interval_days = 14

[[levels]]
id = "outpatient"
name = "Outpatient"
asam3 = ["1"]
weekly_hours = { min = 0, max = 8 }
review_interval_days = 30

[admission]
levels = ["iop"]

[[transitions]]
kind = "step_down"
from = "iop"
to = ["outpatient"]
gates = ["accepted_referral", "aftercare_appointment"]

[[discharges]]
kind = "planned"
from = ["*"]
gates = ["aftercare_appointment"]
"#;

    fn errors(text: &str) -> Vec<PathwayError> {
        parse("t.toml", text).expect_err("should fail").0
    }

    #[test]
    fn minimal_pathway_loads() {
        let p = parse("t.toml", MINIMAL).unwrap();
        assert_eq!(p.levels.len(), 2);
        assert_eq!(p.discharges[0].from.len(), 2);
    }

    #[test]
    fn unknown_gate_names_file_line_and_item() {
        let text = MINIMAL.replace("[\"accepted_referral\", ", "[\"bed_check\", ");
        let e = errors(&text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].file, "t.toml");
        assert_eq!(e[0].line, 27);
        assert!(e[0].item.starts_with("transition #1"), "{}", e[0]);
        assert!(e[0].message.contains("unknown gate \"bed_check\""));
    }

    #[test]
    fn duplicate_level() {
        let text = MINIMAL.replacen("id = \"outpatient\"", "id = \"iop\"", 1);
        let e = errors(&text);
        assert!(
            e.iter()
                .any(|e| e.message.contains("duplicate level") && e.line == 14),
            "{e:?}"
        );
    }

    #[test]
    fn unreachable_level() {
        let text = MINIMAL
            .replace("to = [\"outpatient\"]", "to = [\"iop\"]")
            .replace("kind = \"step_down\"", "kind = \"lateral\"");
        let e = errors(&text);
        assert!(
            e.iter()
                .any(|e| e.item == "level \"outpatient\"" && e.message.starts_with("unreachable")),
            "{e:?}"
        );
    }

    #[test]
    fn transition_to_nowhere_and_unknown_level() {
        let e = errors(&MINIMAL.replace("to = [\"outpatient\"]", "to = []"));
        assert!(
            e.iter()
                .any(|e| e.message.contains("transition to nowhere")),
            "{e:?}"
        );
        let e = errors(&MINIMAL.replace("to = [\"outpatient\"]", "to = [\"moon\"]"));
        assert!(
            e.iter()
                .any(|e| e.message.contains("unknown level \"moon\"") && e.line == 26),
            "{e:?}"
        );
    }

    #[test]
    fn medical_personnel_only_on_withdrawal_management_3_7_and_4() {
        // Claimed for intensive outpatient (2.1): refused, at its line, naming the code.
        let e = errors(&MINIMAL.replace(
            "asam3 = [\"2.1\"]",
            "asam3 = [\"2.1\"]\nmedical_personnel = true",
        ));
        assert!(
            e.iter().any(|e| e.item == "level \"iop\""
                && e.message
                    .contains("ASAM 2.1 is care without medical personnel")),
            "{e:?}"
        );
        // The shipped pathways: withdrawal management has them; residential care that may be
        // 3.1 low-intensity residential, CSS (3.5) and TSS (3.1) do not.
        for (name, text, with, without) in [
            (
                "asam-continuum.toml",
                include_str!("../pathways/asam-continuum.toml"),
                &["detox"][..],
                &[
                    "ambulatory_detox",
                    "residential",
                    "php",
                    "iop",
                    "outpatient",
                ][..],
            ),
            (
                "ma-bsas.toml",
                include_str!("../pathways/ma-bsas.toml"),
                &["ats"][..],
                &[
                    "css",
                    "tss",
                    "residential_rehab",
                    "day_treatment",
                    "outpatient",
                ][..],
            ),
        ] {
            let p = parse(name, text).unwrap();
            for id in with {
                assert!(p.level_by_str(id).unwrap().medical_personnel, "{name} {id}");
            }
            for id in without {
                assert!(
                    !p.level_by_str(id).unwrap().admits_in_emergency(),
                    "{name} {id}"
                );
            }
        }
    }

    #[test]
    fn hours_band_contradicting_level() {
        let e = errors(&MINIMAL.replace("min = 9, max = 19", "min = 20, max = 30"));
        assert!(
            e.iter()
                .any(|e| e.message.contains("contradict ASAM 2.1") && e.line == 10),
            "{e:?}"
        );
        let e = errors(&MINIMAL.replace("min = 0, max = 8", "min = 0, max = 12"));
        assert!(
            e.iter().any(|e| e.message.contains("contradict ASAM 1")),
            "{e:?}"
        );
    }

    #[test]
    fn a_20_hour_iop_is_iop_and_more_is_not() {
        let p = parse(
            "t.toml",
            &MINIMAL.replace("min = 9, max = 19", "min = 9, max = 20"),
        )
        .expect("9-20 h/week is IOP");
        assert_eq!(p.levels[0].weekly_hours.max, 20.0);
        for band in ["min = 9, max = 25", "min = 9, max = 20.5"] {
            let e = errors(&MINIMAL.replace("min = 9, max = 19", band));
            assert!(
                e.iter().any(|e| e.line == 10
                    && e.item == "level \"iop\""
                    && e.message
                        .contains("contradict ASAM 2.1, which is at most 20 h/week")),
                "{band}: {e:?}"
            );
        }
        // Partial hospitalization starts at 20: the hour both may claim.
        let php = MINIMAL
            .replace("asam3 = [\"2.1\"]", "asam3 = [\"2.5\"]")
            .replace("min = 9, max = 19", "min = 20, max = 30");
        parse("t.toml", &php).expect("20-30 h/week is PHP");
    }

    #[test]
    fn a_4th_edition_code_belongs_to_one_level() {
        let text = MINIMAL
            .replace(
                "asam3 = [\"2.1\"]",
                "asam3 = [\"2.1\"]\nasam4 = [\"2.1\", \"1.5\"]",
            )
            .replace("asam3 = [\"1\"]", "asam3 = [\"1\"]\nasam4 = [\"1.5\"]");
        let e = errors(&text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!((e[0].file.as_str(), e[0].line), ("t.toml", 18), "{}", e[0]);
        assert_eq!(e[0].item, "level \"outpatient\"");
        assert!(
            e[0].message
                .contains("\"1.5\" is already claimed by level \"iop\" (line 10)"),
            "{}",
            e[0]
        );
        // Twice in one level is a slip of its own.
        let e = errors(&MINIMAL.replace(
            "asam3 = [\"2.1\"]",
            "asam3 = [\"2.1\"]\nasam4 = [\"2.1\", \"2.1\"]",
        ));
        assert!(
            e.iter()
                .any(|e| e.line == 10 && e.message.contains("\"2.1\" listed twice")),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_4th_edition_code() {
        // 1-WM is a 3rd-edition code: the 4th edition folds withdrawal management into its
        // levels. 2.7 and 1.7 exist.
        for code in ["1-WM", "2.2", "4.0"] {
            let text = MINIMAL.replace(
                "asam3 = [\"2.1\"]",
                &format!("asam3 = [\"2.1\"]\nasam4 = [\"2.7\", \"{code}\"]"),
            );
            let e = errors(&text);
            assert_eq!(e.len(), 1, "{code}: {e:?}");
            assert_eq!((e[0].line, e[0].item.as_str()), (10, "level \"iop\""));
            assert!(
                e[0].message
                    .starts_with(&format!("unknown ASAM 4th-edition code \"{code}\"")),
                "{}",
                e[0]
            );
        }
        let text = MINIMAL.replace(
            "asam3 = [\"1\"]",
            "asam3 = [\"1\"]\nasam4 = [\"1.5\", \"1.7\"]",
        );
        parse("t.toml", &text).expect("1.5 and 1.7 are 4th-edition codes");
    }

    #[test]
    fn a_step_down_to_outpatient_books_the_first_visit() {
        let text = MINIMAL.replace(", \"aftercare_appointment\"]", "]");
        let e = errors(&text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].line, 26, "{}", e[0]);
        assert!(e[0].item.starts_with("transition #1 (step_down from iop)"));
        assert!(
            e[0].message.contains(
                "a step-down to \"outpatient\" (ASAM 1, outpatient) needs the \
                 aftercare_appointment gate"
            ),
            "{}",
            e[0]
        );
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = errors("[pathway]\nid = \"x\"\nname = \n");
        assert_eq!(e[0].line, 3, "{e:?}");
        assert_eq!(e[0].item, "syntax");
    }

    #[test]
    fn unplanned_discharge_cannot_be_gated() {
        let text = format!(
            "{MINIMAL}\n[[discharges]]\nkind = \"against_medical_advice\"\nfrom = [\"*\"]\ngates = [\"consent\"]\n"
        );
        let e = errors(&text);
        assert!(
            e.iter().any(|e| e.message.contains("never blocked")),
            "{e:?}"
        );
    }

    #[test]
    fn bundled_pathways_are_valid() {
        for (name, text) in [
            (
                "asam-continuum.toml",
                include_str!("../pathways/asam-continuum.toml"),
            ),
            ("ma-bsas.toml", include_str!("../pathways/ma-bsas.toml")),
        ] {
            if let Err(e) = parse(name, text) {
                panic!("{e}");
            }
            // Each level sets its own answer, hold and arrival times (the header says what
            // they are): the [settings] defaults are for pathways written before them.
            let raw: toml::Table = toml::from_str(text).unwrap();
            for level in raw["levels"].as_array().unwrap() {
                for key in ["referral_answer_hours", "hold_hours", "arrival_days"] {
                    assert!(level.get(key).is_some(), "{name}: {level:?} sets no {key}");
                }
            }
        }
    }

    #[test]
    fn the_default_pathway_has_ambulatory_withdrawal_management() {
        let p = parse(
            "asam-continuum.toml",
            include_str!("../pathways/asam-continuum.toml"),
        )
        .unwrap();
        let level = |id: &str| p.level_by_str(id).unwrap();
        let amb = level("ambulatory_detox");
        assert_eq!(amb.asam3, ["1-WM", "2-WM"]);
        assert!(
            amb.followup_on_exit,
            "HEDIS FUI counts withdrawal management"
        );
        // Outpatient care: a declared medical emergency does not send anyone there.
        assert!(!amb.admits_in_emergency());
        assert!(level("detox").admits_in_emergency());
        assert!(level("detox").asam3.contains(&"3.2-WM".to_owned()));
        let (amb, detox, outpatient) = (
            LevelId::new("ambulatory_detox"),
            LevelId::new("detox"),
            LevelId::new("outpatient"),
        );
        assert!(p.admission_levels.contains(&amb));
        for (kind, from, to) in [
            (TransitionKind::StepDown, &detox, &amb),
            (TransitionKind::StepUp, &amb, &detox),
            (TransitionKind::StepDown, &amb, &outpatient),
            (TransitionKind::StepUp, &outpatient, &amb),
            (TransitionKind::Lateral, &amb, &amb),
            (TransitionKind::Lateral, &detox, &detox),
        ] {
            assert!(
                p.transition_rule(kind, Some(from), to).is_some(),
                "{kind} {from} -> {to}"
            );
        }
        assert!(
            p.transition_rule(TransitionKind::Readmission, None, &amb)
                .is_some()
        );
    }

    #[test]
    fn bundled_pathways_follow_the_4th_edition_and_book_every_step_down_to_outpatient() {
        for (name, text) in [
            (
                "asam-continuum.toml",
                include_str!("../pathways/asam-continuum.toml"),
            ),
            ("ma-bsas.toml", include_str!("../pathways/ma-bsas.toml")),
        ] {
            let p = parse(name, text).unwrap();
            let outpatient = p.level_by_str("outpatient").unwrap();
            assert_eq!(outpatient.asam4, ["1.5"], "{name}");
            let iop = p.levels.iter().find(|l| l.asam3 == ["2.1"]).unwrap();
            assert!(iop.weekly_hours.contains(20.0), "{name}: a 20-hour IOP");
            let step_downs_to_outpatient: Vec<_> = p
                .transitions
                .iter()
                .filter(|t| t.kind == TransitionKind::StepDown && t.to.contains(&outpatient.id))
                .collect();
            // From every level above outpatient.
            assert_eq!(step_downs_to_outpatient.len(), p.levels.len() - 1, "{name}");
            for t in step_downs_to_outpatient {
                assert!(
                    t.gates.contains(&Gate::AftercareAppointment),
                    "{name}: {t:?}"
                );
            }
        }
        let ma = parse("ma-bsas.toml", include_str!("../pathways/ma-bsas.toml")).unwrap();
        let ats = LevelId::new("ats");
        assert!(
            ma.transition_rule(TransitionKind::Lateral, Some(&ats), &ats)
                .is_some(),
            "hospital to ATS"
        );
    }
}
