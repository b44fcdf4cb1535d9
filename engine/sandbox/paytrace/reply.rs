//! Replies in PayTrace's shapes: the `success`/`response_code`/`status_message` body, the error
//! envelope (`response_code: 1`, `errors{"<code>": [messages]}`, several codes at once), the
//! status texts of each response code, and how a reply maps to an HTTP status (200 for
//! success, the configured decline status for `success:false`, 401 for token problems).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub const ERRORS_MESSAGE: &str = "One or more errors has occurred.";
pub const EXPORT_MESSAGE: &str = "Your request has been successfully completed.";

/// Error keys. PayTrace's own where known; the 8xx and 9xx keys are the emulator's choice
/// (PayTrace documents no code for those cases).
pub mod codes {
    pub const CUSTOMER_NOT_FOUND: u16 = 30;
    pub const CARD_NUMBER: u16 = 35;
    pub const EXP_MONTH: u16 = 43;
    pub const EXP_YEAR: u16 = 44;
    pub const ACCOUNT: u16 = 45;
    pub const ROUTING: u16 = 46;
    pub const TRANSACTION_ID: u16 = 58;
    pub const CHECK_ID: u16 = 80;
    pub const CUSTOMER_UNIQUE: u16 = 171;
    pub const REFUND_UNSETTLED: u16 = 817;
    pub const VOID_SETTLED: u16 = 818;
    pub const REFUND_TOO_MUCH: u16 = 819;
    pub const CAPTURE_STATE: u16 = 820;
    pub const CAPTURE_TOO_MUCH: u16 = 821;
    pub const BODY: u16 = 900;
    pub const NO_METHOD: u16 = 901;
    pub const AMOUNT: u16 = 902;
    pub const START_DATE: u16 = 903;
    pub const END_DATE: u16 = 904;
    pub const CUSTOMER_ID: u16 = 905;
    pub const BATCH: u16 = 906;
    pub const HPF_TOKEN: u16 = 907;
    pub const LEVEL_THREE: u16 = 908;
}

/// What a handler returns; turned into HTTP by `render`.
pub enum Reply {
    /// `success: true`, HTTP 200.
    Ok(Value),
    /// `success: false` (decline or validation error), HTTP per `decline_status`.
    Fail(Value),
    /// A fixed status (401, 413, 404, 500).
    Raw(StatusCode, Value),
}

impl Reply {
    pub fn render(self, decline_status: u16) -> Response {
        match self {
            Reply::Ok(v) => Json(v).into_response(),
            Reply::Fail(v) => {
                let status =
                    StatusCode::from_u16(decline_status).unwrap_or(StatusCode::BAD_REQUEST);
                (status, Json(v)).into_response()
            }
            Reply::Raw(status, v) => (status, Json(v)).into_response(),
        }
    }
}

/// Validation errors collected over a request, in the order found.
#[derive(Default)]
pub struct Errors(Vec<(u16, String)>);

impl Errors {
    pub fn add(&mut self, code: u16, message: impl Into<String>) {
        self.0.push((code, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn one(code: u16, message: impl Into<String>) -> Reply {
        let mut e = Errors::default();
        e.add(code, message);
        e.reply()
    }

    /// The envelope, or `Ok(())` when nothing was wrong.
    pub fn check(self) -> Result<(), Reply> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.reply())
        }
    }

    pub fn reply(self) -> Reply {
        Reply::Fail(self.body())
    }

    pub fn body(self) -> Value {
        let mut errors: Map<String, Value> = Map::new();
        for (code, message) in self.0 {
            let entry = errors.entry(code.to_string()).or_insert_with(|| json!([]));
            if let Value::Array(list) = entry {
                list.push(Value::String(message));
            }
        }
        json!({
            "success": false,
            "response_code": 1,
            "status_message": ERRORS_MESSAGE,
            "errors": errors,
        })
    }
}

/// PayTrace's text for a response code (test-mode variants included).
pub fn status_text(code: u16) -> &'static str {
    match code {
        101 => "Your transaction was successfully approved.",
        102 => "Your transaction was not approved.",
        103 => {
            "Your transaction was successfully approved. However, it was voided because it did not pass the security settings."
        }
        104 => {
            "Your TEST transaction was successfully approved. HOWEVER, A LIVE APPROVAL WAS NOT OBTAINED."
        }
        105 => "Your TEST transaction was not approved.",
        106 => "Your transaction was successfully refunded.",
        107 => "Your transaction was not successfully refunded.",
        108 => {
            "Your TEST transaction was successfully refunded HOWEVER, NO FUNDS WILL BE REFUNDED."
        }
        109 => "Your transaction was successfully voided.",
        110 => "Your transaction was not successfully voided.",
        112 => "Your transaction was successfully captured.",
        113 => "Your transaction was not successfully captured.",
        120 => "Your check was successfully processed.",
        122 => "Your check was successfully refunded.",
        124 => "Your check was successfully managed.",
        125 => "Your check was not successfully processed.",
        _ => "",
    }
}

/// The common head of a reply: `success`, `response_code`, `status_message`.
pub fn head(success: bool, code: u16) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("success".into(), Value::Bool(success));
    m.insert("response_code".into(), json!(code));
    m.insert("status_message".into(), json!(status_text(code)));
    m
}

/// Successful export head (`response_code: 1`).
pub fn export_head() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("success".into(), Value::Bool(true));
    m.insert("response_code".into(), json!(1));
    m.insert("status_message".into(), json!(EXPORT_MESSAGE));
    m
}

/// An OAuth-style error body (`invalid_grant`, `invalid_token`, ...).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = format!(
            "Bearer realm=\"PayTrace\", error=\"{error}\", error_description=\"{description}\""
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&challenge) {
            r.headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

/// Unknown path: PayTrace answers JSON everywhere.
pub async fn not_found() -> Response {
    Reply::Raw(
        StatusCode::NOT_FOUND,
        Errors::default()
            .tap(codes::NO_METHOD, "The requested API method was not found.")
            .body(),
    )
    .render(404)
}

/// Known path, wrong HTTP method (every v1 method but ping is a POST).
pub async fn not_allowed() -> Response {
    Reply::Raw(
        StatusCode::METHOD_NOT_ALLOWED,
        Errors::default()
            .tap(
                codes::NO_METHOD,
                "This API method only accepts POST requests.",
            )
            .body(),
    )
    .render(405)
}

impl Errors {
    fn tap(mut self, code: u16, message: &str) -> Self {
        self.add(code, message);
        self
    }
}
