//! The notice's email through Amazon SES v2 `SendEmail`: one destination address per call, a
//! simple message with a text and an HTML part, from `NOTICE_FROM`.

use crate::aws::clients::error_chain;
use crate::domain::change_notice::message::NoticeMessage;
use crate::domain::change_notice::{MailError, Mailer};
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        SesMailer {
            client,
            from: from.into(),
        }
    }
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError(e.to_string()))
}

impl Mailer for SesMailer {
    async fn send(&self, to: &str, message: &NoticeMessage) -> Result<(), MailError> {
        let body = Body::builder()
            .text(utf8(&message.text)?)
            .html(utf8(&message.html)?)
            .build();
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(utf8(&message.subject)?)
                    .body(body)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(content)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let text = match &e {
                    SdkError::ServiceError(s) => s.err().code().unwrap_or("Unknown").to_string(),
                    _ => error_chain(&e),
                };
                MailError(format!("SendEmail: {text}"))
            })
    }
}
