//! The behaviour model's rates: each a command-line flag with a default drawn from a
//! published figure where one was found (README "Simulated cohort" cites them), or marked
//! as an assumption where none was.

use serde::Serialize;

/// How the synthetic cohort behaves. Probabilities are per stay, per referral or per booking
/// as each says.
#[derive(Clone, Debug, PartialEq, Serialize, clap::Args)]
pub struct Rates {
    /// Left against advice, per stay in withdrawal management (TEDS-D 2004, detoxification:
    /// 16.4 % dropped out).
    #[arg(long, default_value_t = 0.164)]
    pub ama_detox: f64,
    /// Left against advice, per residential stay (TEDS-D 2004, short-term residential:
    /// 14.1 % dropped out).
    #[arg(long, default_value_t = 0.141)]
    pub ama_residential: f64,
    /// Left against advice, per PHP or IOP stay (TEDS-D 2004, intensive outpatient: 23.2 %).
    #[arg(long, default_value_t = 0.232)]
    pub ama_intensive: f64,
    /// Left against advice, per outpatient stay (TEDS-D 2004, outpatient: 27.2 %).
    #[arg(long, default_value_t = 0.272)]
    pub ama_outpatient: f64,
    /// Discharged by the program (administrative), per stay in withdrawal management
    /// (TEDS-D 2004: 2.1 % terminated by facility).
    #[arg(long, default_value_t = 0.021)]
    pub admin_detox: f64,
    /// Administrative discharge per residential stay (TEDS-D 2004 short-term residential: 6.3 %).
    #[arg(long, default_value_t = 0.063)]
    pub admin_residential: f64,
    /// Administrative discharge per PHP or IOP stay (TEDS-D 2004 intensive outpatient: 14.0 %).
    #[arg(long, default_value_t = 0.140)]
    pub admin_intensive: f64,
    /// Administrative discharge per outpatient stay (TEDS-D 2004 outpatient: 10.5 %).
    #[arg(long, default_value_t = 0.105)]
    pub admin_outpatient: f64,
    /// Of those completing withdrawal management, the share referred on to another level
    /// rather than discharged (TEDS-D 2004 detoxification: 13.6 % transferred against 62.3 %
    /// completed, 0.18; raised to 0.5 as ASAM and 105 CMR 164 expect a referral on —
    /// assumption).
    #[arg(long, default_value_t = 0.5)]
    pub step_down_detox: f64,
    /// Of those completing residential care, the share stepped down (TEDS-D 2004 short-term
    /// residential: 14.3 % transferred against 61.5 % completed, 0.19; assumption 0.4).
    #[arg(long, default_value_t = 0.4)]
    pub step_down_residential: f64,
    /// Of those completing PHP or IOP, the share stepped down (TEDS-D 2004 intensive
    /// outpatient: 17.9 % transferred against 37.7 % completed, 0.32).
    #[arg(long, default_value_t = 0.32)]
    pub step_down_intensive: f64,
    /// Relapse leading to a step-up, per stay at a non-residential level (assumption).
    #[arg(long, default_value_t = 0.08)]
    pub relapse_step_up: f64,
    /// Providers a referral goes to at once (docs/domain.md: OpenBeds sends to up to 3).
    #[arg(long, default_value_t = 3)]
    pub fanout: usize,
    /// A provider acknowledges a referral before answering (docs/domain.md: Delaware, 65 %
    /// acknowledged within 30 minutes).
    #[arg(long, default_value_t = 0.65)]
    pub acknowledge: f64,
    /// A provider accepts (assumption).
    #[arg(long, default_value_t = 0.45)]
    pub accept: f64,
    /// A provider declines, with a reason (assumption).
    #[arg(long, default_value_t = 0.25)]
    pub decline: f64,
    /// A provider waitlists (assumption); a provider that would accept but is full
    /// waitlists or declines for capacity, even odds.
    #[arg(long, default_value_t = 0.10)]
    pub waitlist: f64,
    /// Of the answers, the share given only after the deadline (slow answers; the referral
    /// has expired by then and the answer is refused — assumption). The rest of the
    /// probability (1 - accept - decline - waitlist) never answers.
    #[arg(long, default_value_t = 0.10)]
    pub late_answer: f64,
    /// Of the referrals a provider would answer late or never, the share its intake answers
    /// in time after all, acting on the notice that the referral expires within the hour
    /// (an answer on the first whole hour after it). No study measures this for referral
    /// notifications: an assumption, 0 by default (nobody acts on a notice, as before
    /// Carepath told anyone); `--act-on-notice 0.5` shows what half of them acting is worth
    /// in referrals answered in time (docs/simulate.md).
    #[arg(long, default_value_t = 0.0)]
    pub act_on_notice: f64,
    /// A client on the way arrives at the receiving provider (assumption).
    #[arg(long, default_value_t = 0.85)]
    pub arrival: f64,
    /// Of the clients who do not arrive, the share the provider reports as a no-show
    /// before the deadline (assumption).
    #[arg(long, default_value_t = 0.5)]
    pub no_show_reported: f64,
    /// A client lost on the way is sent on from the level they left rather than
    /// discharged (assumption).
    #[arg(long, default_value_t = 0.5)]
    pub reroute: f64,
    /// An aftercare appointment is attended (Blondell et al. 2007: 44.3 % did not initiate
    /// outpatient aftercare after inpatient detoxification).
    #[arg(long, default_value_t = 0.557)]
    pub aftercare_attendance: f64,
    /// Clients with opioid use disorder (TEDS-A 2021: heroin and other opioids the primary
    /// substance at about a third of admissions — assumption 0.35).
    #[arg(long, default_value_t = 0.35)]
    pub oud: f64,
    /// Clients with OUD on medication (assumption).
    #[arg(long, default_value_t = 0.6)]
    pub moud: f64,
    /// Of those on medication: buprenorphine (the rest of 1 - methadone - buprenorphine is
    /// XR-naltrexone; assumption).
    #[arg(long, default_value_t = 0.55)]
    pub buprenorphine: f64,
    /// Of those on medication: methadone (assumption).
    #[arg(long, default_value_t = 0.35)]
    pub methadone: f64,
    /// Buprenorphine retained at 24 weeks (Hser et al. 2014, START: 46 %).
    #[arg(long, default_value_t = 0.46)]
    pub retention_buprenorphine: f64,
    /// Methadone retained at 24 weeks (Hser et al. 2014, START: 74 %).
    #[arg(long, default_value_t = 0.74)]
    pub retention_methadone: f64,
    /// XR-naltrexone retained at 24 weeks (Sullivan et al. 2019: 57.1 %; "about 50 %" in
    /// the two large trials it cites).
    #[arg(long, default_value_t = 0.5)]
    pub retention_xr_naltrexone: f64,
    /// A booked dose, refill or injection is picked up on its day (Molfenter 2013:
    /// outpatient no-shows 37.4 % before and 19.9 % after improvement; assumption 0.9 for
    /// a medication pickup).
    #[arg(long, default_value_t = 0.9)]
    pub mat_pickup: f64,
    /// A discharged client is readmitted later in the window (assumption).
    #[arg(long, default_value_t = 0.15)]
    pub readmission: f64,
    /// Scales every provider's capacity (1.0: about the expected census; below 1, waitlists).
    #[arg(long, default_value_t = 1.0)]
    pub capacity_factor: f64,
}

impl Default for Rates {
    fn default() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            rates: Rates,
        }
        Only::parse_from(["rates"]).rates
    }
}

impl Rates {
    /// What is wrong with these rates, if anything.
    pub fn check(&self) -> Result<(), String> {
        let probabilities = [
            ("ama-detox", self.ama_detox),
            ("ama-residential", self.ama_residential),
            ("ama-intensive", self.ama_intensive),
            ("ama-outpatient", self.ama_outpatient),
            ("admin-detox", self.admin_detox),
            ("admin-residential", self.admin_residential),
            ("admin-intensive", self.admin_intensive),
            ("admin-outpatient", self.admin_outpatient),
            ("step-down-detox", self.step_down_detox),
            ("step-down-residential", self.step_down_residential),
            ("step-down-intensive", self.step_down_intensive),
            ("relapse-step-up", self.relapse_step_up),
            ("acknowledge", self.acknowledge),
            ("accept", self.accept),
            ("decline", self.decline),
            ("waitlist", self.waitlist),
            ("late-answer", self.late_answer),
            ("act-on-notice", self.act_on_notice),
            ("arrival", self.arrival),
            ("no-show-reported", self.no_show_reported),
            ("reroute", self.reroute),
            ("aftercare-attendance", self.aftercare_attendance),
            ("oud", self.oud),
            ("moud", self.moud),
            ("buprenorphine", self.buprenorphine),
            ("methadone", self.methadone),
            ("retention-buprenorphine", self.retention_buprenorphine),
            ("retention-methadone", self.retention_methadone),
            ("retention-xr-naltrexone", self.retention_xr_naltrexone),
            ("mat-pickup", self.mat_pickup),
            ("readmission", self.readmission),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("--{name} is a probability, 0 to 1 (got {p})"));
            }
        }
        for (what, sum) in [
            (
                "--accept + --decline + --waitlist",
                self.accept + self.decline + self.waitlist,
            ),
            (
                "--buprenorphine + --methadone",
                self.buprenorphine + self.methadone,
            ),
            (
                "--ama-detox + --admin-detox",
                self.ama_detox + self.admin_detox,
            ),
            (
                "--ama-residential + --admin-residential",
                self.ama_residential + self.admin_residential,
            ),
            (
                "--ama-intensive + --admin-intensive",
                self.ama_intensive + self.admin_intensive,
            ),
            (
                "--ama-outpatient + --admin-outpatient",
                self.ama_outpatient + self.admin_outpatient,
            ),
        ] {
            if sum > 1.0 + 1e-9 {
                return Err(format!("{what} add up to more than 1 ({sum})"));
            }
        }
        if self.fanout == 0 {
            return Err("--fanout is at least 1".into());
        }
        if !(self.capacity_factor > 0.0 && self.capacity_factor <= 100.0) {
            return Err("--capacity-factor is above 0 and at most 100".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_a_bad_rate_is_named() {
        let r = Rates::default();
        assert_eq!(r.ama_detox, 0.164);
        r.check().expect("defaults are valid");
        let bad = Rates {
            accept: 0.9,
            ..Rates::default()
        };
        assert!(bad.check().unwrap_err().contains("--accept"));
        let bad = Rates {
            arrival: 1.5,
            ..Rates::default()
        };
        assert!(bad.check().unwrap_err().contains("--arrival"));
    }
}
