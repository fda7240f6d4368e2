//! The signed-in person's notification center (`/notifications`): their notices, newest
//! first, each in words — what it tells, when, the moment that matters, whether they read it,
//! whether someone acted on it or it went on to the supervisors — with the way to where acting
//! starts (`/notifications/{id}`, the link every e-mail carries too) and "mark all read". The
//! header of every page counts the unread ones (`page::Chrome`); its script asks
//! `/notifications/unread` again when `/live` says something changed.
//!
//! A notice names no client here (42 CFR Part 2: that someone is a client is itself a
//! disclosure): its link goes to the page that shows what the reader's standing allows, and
//! that page's read is the one accounted. Every read and change is the engine's
//! (`Engine::notifications`, `unread_notifications`, `open_notification`,
//! `read_all_notifications`), which gives each person only their own.

use crate::action::Fields;
use crate::error::PageError;
use crate::page::{Chrome, html};
use crate::session::Signed;
use crate::words::{self, moment};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_engine::domain::{NoticeKind, Role};
use carepath_engine::ids::NoticeId;
use carepath_engine::{About, Engine, Error, Notification};
use serde::Deserialize;

/// The header link's accessible name, its visible word first ("Notifications: 3 unread").
pub fn unread_label(unread: u64) -> String {
    match unread {
        0 => "Notifications: none unread".to_owned(),
        n => format!("Notifications: {n} unread"),
    }
}

/// A notice on the page, in words.
pub struct NoticeRow {
    pub id: String,
    pub headline: &'static str,
    pub told: String,
    pub due: Option<String>,
    pub unread: bool,
    pub resolved: bool,
    pub escalated: bool,
}

fn row(n: &Notification) -> NoticeRow {
    NoticeRow {
        id: n.id.to_string(),
        headline: words::notice(n.kind),
        told: moment(n.at),
        due: n
            .due
            .map(|d| format!("{} {}", words::notice_due(n.kind), moment(d))),
        unread: n.read_at.is_none(),
        resolved: n.resolved,
        escalated: n.escalated,
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    done: Option<String>,
    notices: Vec<NoticeRow>,
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    read: Option<usize>,
}

/// `GET /notifications`.
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let notices = engine.notifications(&signed.actor).await?;
    let chrome = Chrome::new(&engine, &signed, "/notifications", "Notifications").await?;
    html(&NotificationsPage {
        chrome,
        done: q.read.map(|n| match n {
            0 => "You had no unread notification.".to_owned(),
            1 => "One notification marked read.".to_owned(),
            n => format!("{n} notifications marked read."),
        }),
        notices: notices.iter().map(row).collect(),
    })
}

/// `GET /notifications/unread`: the number of the person's unread notices, as text, for the
/// header's script (never stored).
pub async fn unread(State(engine): State<Engine>, signed: Signed) -> Result<Response, PageError> {
    let n = engine.unread_notifications(&signed.actor).await?;
    let mut resp = n.to_string().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Where acting on a notice starts, for a reader in `role`: a referral in the partner's
/// inbox (its entry, or the arrivals for a client on the way), a client's page (for the
/// coordinators, their worklist of bookings), the organization's settings for a webhook.
pub fn destination(n: &Notification, role: Role) -> String {
    match n.about {
        About::Organization => "/staff#webhooks-h".to_owned(),
        _ if n.kind == NoticeKind::ClientOnTheWay && role == Role::Partner => {
            "/inbox#arrivals".to_owned()
        }
        About::Referral { referral, .. } if role == Role::Partner => {
            format!("/inbox#referral-{referral}")
        }
        _ if role == Role::AftercareCoordinator => "/worklist".to_owned(),
        About::Referral { client, .. } | About::Client(client) => format!("/clients/{client}"),
    }
}

/// `GET /notifications/{id}`: the notice opened (read, by this person) and on to where acting
/// starts. Another person's notice, or none, is not found alike. (The link in an e-mail; a
/// browser not signed in goes to sign-in, which lands on the person's first page after.)
pub async fn open(
    State(engine): State<Engine>,
    signed: Result<Signed, PageError>,
    headers: HeaderMap,
    jar: axum_extra::extract::CookieJar,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    // Not signed in (the link came by e-mail): sign in first, then on to this notice.
    let signed = match signed {
        Ok(s) => s,
        Err(PageError::SignIn) => {
            let Ok(id) = id.trim().parse::<NoticeId>() else {
                return Ok(Redirect::to("/sign-in").into_response());
            };
            let path = format!("/notifications/{id}");
            let jar = jar.add(crate::session::remember_next(&path, &headers));
            return Ok((jar, Redirect::to("/sign-in")).into_response());
        }
        Err(e) => return Err(e),
    };
    let id: NoticeId = id
        .parse()
        .map_err(|_| PageError::Engine(Error::NotFound(format!("notification {id}"))))?;
    let n = engine.open_notification(&signed.actor, id).await?;
    Ok(Redirect::to(&destination(&n, signed.actor.role)).into_response())
}

/// `POST /notifications/read`: every notice of the person's read.
pub async fn read_all(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields::new(pairs);
    let outcome = async {
        signed.check_form(&headers, f.get("csrf").unwrap_or(""))?;
        Ok::<_, PageError>(engine.read_all_notifications(&signed.actor).await?)
    }
    .await;
    match outcome {
        Ok(n) => Redirect::to(&format!("/notifications?read={n}")).into_response(),
        Err(e) => crate::staff::refused(&engine, e, "/notifications").await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepath_engine::ids::{ClientId, ReferralId};
    use chrono::Utc;

    fn notice(kind: NoticeKind, about: About) -> Notification {
        Notification {
            id: NoticeId::new(),
            kind,
            at: Utc::now(),
            due: None,
            read_at: None,
            resolved: false,
            escalated: false,
            about,
        }
    }

    #[test]
    fn each_notice_leads_where_its_reader_acts() {
        let (client, referral) = (ClientId::new(), ReferralId::new());
        let on_referral = About::Referral { client, referral };
        let arrived = notice(NoticeKind::ReferralArrived, on_referral);
        assert_eq!(
            destination(&arrived, Role::Partner),
            format!("/inbox#referral-{referral}")
        );
        let coming = notice(NoticeKind::ClientOnTheWay, on_referral);
        assert_eq!(destination(&coming, Role::Partner), "/inbox#arrivals");
        let coming = notice(NoticeKind::ClientOnTheWay, About::Client(client));
        assert_eq!(destination(&coming, Role::Partner), "/inbox#arrivals");
        // Passed on to a supervisor, who has no inbox: the client's page.
        let unanswered = notice(NoticeKind::Unanswered, on_referral);
        assert_eq!(
            destination(&unanswered, Role::Supervisor),
            format!("/clients/{client}")
        );
        let lost = notice(NoticeKind::LostToCare, About::Client(client));
        assert_eq!(
            destination(&lost, Role::CaseManager),
            format!("/clients/{client}")
        );
        let booking = notice(NoticeKind::BookingNeeded, About::Client(client));
        assert_eq!(
            destination(&booking, Role::AftercareCoordinator),
            "/worklist"
        );
        let webhook = notice(NoticeKind::WebhookDisabled, About::Organization);
        assert_eq!(destination(&webhook, Role::Admin), "/staff#webhooks-h");
    }

    #[test]
    fn the_count_is_said_with_the_links_word_first() {
        assert_eq!(unread_label(0), "Notifications: none unread");
        assert_eq!(unread_label(3), "Notifications: 3 unread");
    }
}
