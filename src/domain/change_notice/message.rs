//! The notice itself: what happened, when (UTC), from where, and what to do if it was not the
//! account owner. Plain text and HTML; never a password, hash, token or a link that signs
//! anyone in (the only link is the operator's help page).

use crate::domain::security_event::CommittedChange;

/// Who the user turns to when the change was not theirs (`NOTICE_HELP_URL`, `NOTICE_CONTACT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeSettings {
    pub help_url: String,
    pub contact: String,
}

/// One email, the same for every address of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub const SUBJECT: &str = "Your password was changed";

impl NoticeMessage {
    pub fn for_change(change: &CommittedChange, settings: &NoticeSettings) -> NoticeMessage {
        let when = utc(change.at);
        let ip = or_unknown(&change.source_ip);
        let agent = shown_agent(&change.user_agent);
        let text = format!(
            "The password of your account was changed on {when}.\n\
             \n\
             Where the change came from:\n\
             - IP address: {ip}\n\
             - Browser or app (as it describes itself): {agent}\n\
             \n\
             If you made this change, there is nothing more to do.\n\
             \n\
             If you did not make it, someone else may have access to your account. Follow the \
             instructions at {help} and contact {contact}.\n\
             \n\
             This notice goes to every email address on your account. It never asks for your \
             password and has no link that signs you in.\n",
            help = settings.help_url,
            contact = settings.contact,
        );
        let html = format!(
            "<!DOCTYPE html><html><body>\
             <p>The password of your account was changed on <strong>{when}</strong>.</p>\
             <p>Where the change came from:</p>\
             <ul><li>IP address: <code>{ip}</code></li>\
             <li>Browser or app (as it describes itself): <code>{agent}</code></li></ul>\
             <p>If you made this change, there is nothing more to do.</p>\
             <p>If you did <strong>not</strong> make it, someone else may have access to your \
             account. Follow the instructions at <a href=\"{help}\">{help}</a> and contact \
             {contact}.</p>\
             <p>This notice goes to every email address on your account. It never asks for your \
             password and has no link that signs you in.</p>\
             </body></html>",
            ip = escape(ip),
            agent = escape(agent),
            help = escape(&settings.help_url),
            contact = escape(&settings.contact),
        );
        NoticeMessage {
            subject: SUBJECT.to_string(),
            text,
            html,
        }
    }
}

/// The user agent as the notice shows it: the caller chose it, so one that carries a link or an
/// address (what a phishing line would need) is not shown, and it is cut at 120 characters.
fn shown_agent(agent: &str) -> &str {
    let lower = agent.to_ascii_lowercase();
    if ["://", "www.", "@"].iter().any(|m| lower.contains(m)) {
        return "not shown (it contains a link or an address)";
    }
    let agent = or_unknown(agent);
    match agent.char_indices().nth(120) {
        Some((cut, _)) => &agent[..cut],
        None => agent,
    }
}

fn or_unknown(value: &str) -> &str {
    if value.is_empty() { "unknown" } else { value }
}

/// `2025-11-28 00:00:00 UTC`.
fn utc(epoch_seconds: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(epoch_seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "an unknown time".to_string(),
    }
}

/// HTML text escaping (element content and double-quoted attribute values).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(agent: &str) -> CommittedChange {
        CommittedChange {
            user_id: "u-1".into(),
            password_version: 3,
            at: 1_764_288_000,
            request_id: "r-1".into(),
            source_ip: "203.0.113.9".into(),
            user_agent: agent.into(),
            issuer: None,
        }
    }

    fn settings() -> NoticeSettings {
        NoticeSettings {
            help_url: "https://example.com/help".into(),
            contact: "security@example.com".into(),
        }
    }

    #[test]
    fn says_what_when_where_and_what_to_do() {
        let m = NoticeMessage::for_change(&change("Firefox/133.0"), &settings());
        for body in [&m.text, &m.html] {
            for needle in [
                "2025-11-28 00:00:00 UTC",
                "203.0.113.9",
                "Firefox/133.0",
                "https://example.com/help",
                "security@example.com",
            ] {
                assert!(body.contains(needle), "{needle} missing from {body}");
            }
        }
        assert_eq!(m.subject, SUBJECT);
    }

    #[test]
    fn the_user_agent_cannot_add_markup_or_links() {
        let m = NoticeMessage::for_change(&change("<b>Agent</b> 1.0"), &settings());
        assert!(!m.html.contains("<b>Agent"));
        assert!(m.html.contains("&lt;b&gt;Agent&lt;/b&gt;"));
        for agent in [
            "<a href='https://evil'>x</a>",
            "call us: www.evil.example",
            "x@evil.example",
        ] {
            let m = NoticeMessage::for_change(&change(agent), &settings());
            assert!(!m.text.contains("evil"), "{agent}: {}", m.text);
            assert!(!m.html.contains("evil"), "{agent}");
            assert_eq!(m.html.matches("<a ").count(), 1, "only the help link");
        }
        let long = "A".repeat(300);
        let m = NoticeMessage::for_change(&change(&long), &settings());
        assert!(m.text.contains(&"A".repeat(120)) && !m.text.contains(&"A".repeat(121)));
    }

    #[test]
    fn an_empty_origin_reads_unknown() {
        let mut c = change("");
        c.source_ip.clear();
        let m = NoticeMessage::for_change(&c, &settings());
        assert!(m.text.contains("IP address: unknown"));
    }
}
