//! `latchkey mcp`: an MCP server over stdio for AI agents. Three tools: `list_accounts`;
//! `call_api`, where Latchkey adds the account's token and sends the request to the account's API
//! base only (`Latchkey::call_api`), so the agent never holds a token; and `connect_account`
//! ([`connect`]), a sign-in the person completes. The agent is the consumer
//! (the client's `clientInfo.name`, or `--consumer`); a call needs the person's consent: a grant, or
//! an answer given now through the client (elicitation) or the desktop app. Every failure is a tool
//! result with `isError` and a sentence saying what to do, never a protocol error.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Latchkey;
use latchkey_core::api::{
    self, Access, ApiRequest, ApiResponse, Consent, REQUEST_BODY_MAX, RESPONSE_MAX, check_consumer,
    forbidden_header,
};
use latchkey_core::consent::{ConsentAnswer, ConsentPurpose, ConsentRequest};
use latchkey_core::model::{
    Account, AccountFilter, AccountId, AccountStatus, Actor, ConnectionId, check_identifier, rfc3339,
};
use latchkey_core::{Error, ErrorCode};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequestParams,
    ElicitationAction, ElicitationSchema, Implementation, InitializeRequestParams, InitializeResult,
    JsonObject, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
    Tool, ToolAnnotations,
};
use rmcp::service::{ElicitationMode, RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};
use serde_json::{Value, json};

use crate::{Failure, Outcome};

mod connect;

const INSTRUCTIONS: &str = "Latchkey keeps the person's OAuth sign-ins (Gmail, GitHub, Slack, \
Microsoft, …) in their OS keychain. Use `list_accounts` to see the accounts and what you may do \
with each, then `call_api` to call an account's API: Latchkey adds the account's access token \
itself and sends the request to that account's API base only. Tokens never leave Latchkey: you \
never see one and never need one. The first call to an account may ask the person for consent; \
read access allows GET and HEAD, full access any method. When the person has no account of the \
provider you need, `connect_account` asks them to sign in.";

/// How long the person has to answer a consent prompt in the client.
const ASK_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest account reference, method, header name or value accepted, in bytes.
const ARG_MAX: usize = 8192;

#[derive(Clone)]
struct Server {
    core: Arc<Latchkey>,
    /// `--consumer`: the name grants and the audit use, instead of the client's own.
    consumer: Option<String>,
}

/// Serves MCP on standard input and output until the client closes it.
pub async fn serve(core: Latchkey, consumer: Option<String>, data_dir: &std::path::Path) -> Outcome {
    if let Some(name) = &consumer {
        check_consumer(name).map_err(|e| Failure::Usage(format!("--consumer: {e}")))?;
    }
    // A long-lived server: its warnings go to stderr (which clients keep) and the data folder's log.
    latchkey_core::logging::init(data_dir, "warn,latchkey=info")
        .map_err(|e| Failure::Core(Error::Storage(format!("cannot open the log: {e}"))))?;
    tracing::info!(
        consumer = consumer.as_deref().unwrap_or("(the client's name)"),
        "latchkey mcp: serving on stdio"
    );
    let server = Server { core: Arc::new(core), consumer };
    let running = server
        .serve(rmcp::transport::stdio_pipes())
        .await
        .map_err(|e| Failure::Core(Error::InvalidInput(format!("The MCP session did not start: {e}"))))?;
    running
        .waiting()
        .await
        .map_err(|e| Failure::Core(Error::Storage(format!("The MCP session failed: {e}"))))?;
    Ok(())
}

fn text_error(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

/// The refusal text for a core error: its sentence, with what to do where it helps.
fn core_error(e: &Error) -> String {
    match e {
        Error::Network { .. } | Error::Offline { .. } => format!(
            "{e} The account stays connected (Active): the provider is unreachable for now, and \
             nothing is wrong with the consent or the request; try again later."
        ),
        Error::Suspended => format!("{e} Only the person can resume it (`latchkey resume REF` or the app)."),
        e if e.code() == ErrorCode::ReauthNeeded => {
            format!("{e} Ask the person to reconnect it in the Latchkey app or with `latchkey connect`.")
        }
        e if e.code() == ErrorCode::KeychainUnavailable => {
            format!("{e} Ask the person to unlock their keychain.")
        }
        e => e.to_string(),
    }
}

/// `"…"`-quoted for a POSIX shell.
fn shell_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn reference(a: &Account) -> String {
    format!("{}:{}", a.connection, a.identifier)
}

/// A value quoted back in a refusal: no control or bidi characters, at most 60 characters.
fn quoted(value: &str) -> String {
    let clean: String =
        value.chars().map(|c| if latchkey_core::sanitize::is_unsafe(c) { '?' } else { c }).collect();
    match clean.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean,
    }
}

impl Server {
    /// The consumer of this session: `--consumer`, else the client's name from `initialize`.
    fn consumer(&self, context: &RequestContext<RoleServer>) -> Result<String, String> {
        if let Some(c) = &self.consumer {
            return Ok(c.clone());
        }
        let name = context.peer.peer_info().map(|i| i.client_info.name.clone()).unwrap_or_default();
        check_consumer(&name).map_err(|e| invalid_client_name(&name, &e))?;
        Ok(name)
    }

    /// The account behind `connection:identifier`, with a sentence for the agent when there is none.
    fn account(&self, reference: &str) -> Result<Account, String> {
        let listed = "Call list_accounts for the accounts you can use.";
        let Some((connection, identifier)) = reference.split_once(':') else {
            return Err(format!(
                "“{}” is not an account reference: write CONNECTION:IDENTIFIER, as list_accounts \
                 shows in `ref`, for example gmail:alice@example.com.",
                quoted(reference)
            ));
        };
        if ConnectionId::new(connection).is_err()
            || check_identifier(identifier).is_err()
            || reference.chars().any(char::is_control)
        {
            return Err(format!("“{}” is not an account reference. {listed}", quoted(reference)));
        }
        match self.core.get_connected_account(connection, identifier) {
            Ok(a) if a.status != AccountStatus::Pending => Ok(a),
            Ok(_) | Err(Error::UnknownAccount | Error::UnknownConnection(_)) => {
                Err(format!("There is no account “{}” in Latchkey. {listed}", quoted(reference)))
            }
            Err(e) => Err(core_error(&e)),
        }
    }

    fn list_accounts(&self, consumer: &str) -> Result<CallToolResult, String> {
        let accounts =
            self.core.list_connected_accounts(&AccountFilter::default()).map_err(|e| core_error(&e))?;
        let mut out = Vec::new();
        for a in accounts {
            let Ok(conn) = self.core.connection(a.connection.as_str()) else { continue };
            let Some(base) = conn.api_base.as_ref().filter(|_| conn.oauth().is_some()) else { continue };
            if a.status == AccountStatus::Pending {
                continue;
            }
            out.push(self.listed(consumer, &a, &conn.name, Some(base))?);
        }
        let value = json!({ "consumer": consumer, "accounts": out });
        Ok(CallToolResult::structured(value))
    }

    /// An account as `list_accounts` (and `connect_account`) show it to `consumer`.
    fn listed(
        &self,
        consumer: &str,
        a: &Account,
        provider: &str,
        api_base: Option<&url::Url>,
    ) -> Result<Value, String> {
        let grant = self.core.grant_for(consumer, &a.id).map_err(|e| core_error(&e))?;
        Ok(json!({
            "ref": reference(a),
            "provider": provider,
            "api_base": api_base.map(url::Url::as_str),
            "identity": a.identity.as_ref().and_then(|i| i.email.clone().or_else(|| i.name.clone())),
            "status": a.status.as_str(),
            "offline": a.offline,
            "scopes": a.granted_scopes,
            "access": grant.as_ref().map_or("none", |g| g.access.as_str()),
            "access_until": grant.and_then(|g| g.until).map(rfc3339),
        }))
    }

    async fn call_api(
        &self,
        context: &RequestContext<RoleServer>,
        consumer: &str,
        args: &JsonObject,
    ) -> Result<CallToolResult, String> {
        let call = parse_call(args)?;
        let account = self.account(&call.account)?;
        let (method, path) = (call.request.method.clone(), call.request.path.clone());
        match self.call_account(context, consumer, &account, call.request).await {
            Ok(result) => Ok(result),
            Err(Refused::Here(why)) => {
                if let Err(e) = self.core.record_refused_call(&account.id, consumer, &method, &path, &why) {
                    tracing::warn!(error = %e, "mcp: the refusal could not be recorded");
                }
                Err(why)
            }
            Err(Refused::ByCore(why)) => Err(why),
        }
    }

    /// `call_api` on a known account. Refusals made here are recorded by the caller; the core
    /// records its own.
    async fn call_account(
        &self,
        context: &RequestContext<RoleServer>,
        consumer: &str,
        account: &Account,
        request: ApiRequest,
    ) -> Result<CallToolResult, Refused> {
        let r = reference(account);
        match account.status {
            AccountStatus::Active => {}
            AccountStatus::Suspended => {
                return Err(Refused::Here(format!(
                    "{r} is suspended: the person paused it, and Latchkey makes no calls with it until they resume it."
                )));
            }
            other => {
                return Err(Refused::Here(format!(
                    "{r} is {other}: it cannot be used until the person reconnects it in the Latchkey app or with `latchkey connect`."
                )));
            }
        }
        // Refused before anyone is asked: a request that cannot be sent needs no consent.
        let conn =
            self.core.connection(account.connection.as_str()).map_err(|e| Refused::Here(core_error(&e)))?;
        let Some(base) = conn.api_base.as_ref() else {
            return Err(Refused::Here(format!("{r} has no API base: Latchkey cannot call its API.")));
        };
        api::resolve(base, &request.path, &request.query).map_err(|e| Refused::Here(e.to_string()))?;
        let access = if Access::Read.allows(&request.method) { Access::Read } else { Access::Full };

        // Nobody could be asked: the stored grant decides, and the core refuses (and audits) the call
        // when there is none or it does not allow the method, before anything is sent.
        let (consent, unasked) =
            match self.consent(context, consumer, account, access).await.map_err(Refused::Here)? {
                Decided::Consent(c) => (c, false),
                Decided::Unasked => (Consent::Granted, true),
            };
        tracing::info!(consumer, account = %r, method = %request.method, "mcp: call_api");
        let response = self.core.call_api(&account.id, consumer, consent, request).await.map_err(|e| {
            Refused::ByCore(match e {
                Error::NoGrant { .. } => no_consent(consumer, &r, access),
                Error::InvalidInput(_) if unasked => no_consent(consumer, &r, access),
                e => core_error(&e),
            })
        })?;
        Ok(answer(response))
    }

    /// The consent for this call: a grant that allows it, else the person's answer now.
    async fn consent(
        &self,
        context: &RequestContext<RoleServer>,
        consumer: &str,
        account: &Account,
        access: Access,
    ) -> Result<Decided, String> {
        let r = reference(account);
        let grant = self.core.grant_for(consumer, &account.id).map_err(|e| core_error(&e))?;
        if grant.as_ref().is_some_and(|g| g.access == Access::Full || access == Access::Read) {
            return Ok(Decided::Consent(Consent::Granted));
        }
        let upgrade = grant.is_some();
        if context.peer.supported_elicitation_modes().contains(&ElicitationMode::Form) {
            match ask_client(context, consumer, &r, access, upgrade).await {
                Asked::Answer(ConsentAnswer::Once) => return Ok(Decided::Consent(Consent::Once(access))),
                Asked::Answer(ConsentAnswer::Always) => {
                    let actor = Actor::Cli { caller: format!("{consumer} (asked through MCP)") };
                    self.core
                        .add_grant(consumer, &account.id, access, None, &actor)
                        .map_err(|e| core_error(&e))?;
                    return Ok(Decided::Consent(Consent::Granted));
                }
                Asked::Answer(ConsentAnswer::Deny) => return Err(declined(consumer, &r)),
                // The client could not ask: try the app, then say how to allow it.
                Asked::Failed => {}
            }
        }
        after_app(ask_desktop_app(&self.core, consumer, &account.id, access).await, consumer, &r, access)
    }
}

/// A refused `call_api`: refused here (recorded by [`Server::call_api`]), or by the core, which
/// recorded it.
enum Refused {
    Here(String),
    ByCore(String),
}

/// Where asking for consent ended.
#[derive(Debug, PartialEq)]
enum Decided {
    Consent(Consent),
    /// Nobody could be asked: the call goes to the core under the stored grant, which refuses it.
    Unasked,
}

/// What the app's answer leads to; no app (or one that could not ask): [`Decided::Unasked`].
fn after_app(
    answer: latchkey_core::Result<Option<ConsentAnswer>>,
    consumer: &str,
    r: &str,
    access: Access,
) -> Result<Decided, String> {
    match answer {
        Ok(Some(ConsentAnswer::Once)) => Ok(Decided::Consent(Consent::Once(access))),
        // The app stored the grant before answering.
        Ok(Some(ConsentAnswer::Always)) => Ok(Decided::Consent(Consent::Granted)),
        Ok(Some(ConsentAnswer::Deny)) => Err(declined(consumer, r)),
        Ok(None) | Err(_) => Ok(Decided::Unasked),
    }
}

fn invalid_client_name(name: &str, e: &Error) -> String {
    format!(
        "This MCP client's name (clientInfo.name “{}”) cannot name it in Latchkey: {e} Start the \
         server as `latchkey mcp --consumer NAME` in the client's configuration.",
        quoted(name)
    )
}

fn declined(consumer: &str, r: &str) -> String {
    format!(
        "The person declined: “{consumer}” may not use {r} for this call. Nothing was sent and \
         nothing was remembered; do not retry unless the person asks you to."
    )
}

fn no_consent(consumer: &str, r: &str, access: Access) -> String {
    let upgrade =
        if access == Access::Full { " with full access (any method beyond GET and HEAD)" } else { "" };
    format!(
        "“{consumer}” is not allowed to use {r}{upgrade}, and Latchkey could not ask the person \
         (this client does not support elicitation and the Latchkey app is not running). Nothing \
         was sent. To allow it, the person runs:\n\nlatchkey grants add {} {r} --access {}",
        shell_quote(consumer),
        access.as_str()
    )
}

enum Asked {
    Answer(ConsentAnswer),
    Failed,
}

const ALLOW_ONCE: &str = "allow_once";
const ALLOW_ALWAYS: &str = "allow_always";
const DENY: &str = "deny";

/// Asks the person through the client (form elicitation). Declined or cancelled: deny.
async fn ask_client(
    context: &RequestContext<RoleServer>,
    consumer: &str,
    r: &str,
    access: Access,
    upgrade: bool,
) -> Asked {
    let what = match access {
        Access::Read => "read access (GET and HEAD requests only)",
        Access::Full => "full access (any request, including changes)",
    };
    let now = if upgrade { "It has read access now. " } else { "" };
    let message = format!(
        "Latchkey: the agent “{consumer}” wants to call the API of your account {r} with {what}. \
         {now}Latchkey adds the token itself; the agent never sees it. Allow it?"
    );
    let schema = json!({
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "title": "Your answer",
                "oneOf": [
                    {"const": ALLOW_ONCE, "title": "Allow once (this call only)"},
                    {"const": ALLOW_ALWAYS, "title": format!("Allow always ({} access, until you remove it)", access.as_str())},
                    {"const": DENY, "title": "Deny"},
                ],
            }
        },
        "required": ["decision"],
    });
    let Ok(requested_schema) =
        schema.as_object().cloned().map(ElicitationSchema::from_json_schema).transpose()
    else {
        return Asked::Failed;
    };
    let Some(requested_schema) = requested_schema else { return Asked::Failed };
    let params = ElicitRequestParams::FormElicitationParams { meta: None, message, requested_schema };
    match context.peer.create_elicitation_with_timeout(params, Some(ASK_TIMEOUT)).await {
        Ok(result) => Asked::Answer(match result.action {
            ElicitationAction::Accept => {
                match result.content.as_ref().and_then(|c| c.get("decision")).and_then(Value::as_str) {
                    Some(ALLOW_ONCE) => ConsentAnswer::Once,
                    Some(ALLOW_ALWAYS) => ConsentAnswer::Always,
                    _ => ConsentAnswer::Deny,
                }
            }
            _ => ConsentAnswer::Deny,
        }),
        Err(_) => Asked::Failed,
    }
}

/// Asks the person in the running desktop app; `Ok(None)` when no app is running.
async fn ask_desktop_app(
    core: &Latchkey,
    consumer: &str,
    account: &AccountId,
    access: Access,
) -> latchkey_core::Result<Option<ConsentAnswer>> {
    let request = ConsentRequest {
        consumer: consumer.to_owned(),
        account: account.clone(),
        access,
        purpose: ConsentPurpose::ApiCall,
    };
    core.ask_app(&request).await
}

struct Call {
    account: String,
    request: ApiRequest,
}

/// `call_api`'s arguments, checked for type and size: a sentence naming the wrong one otherwise.
fn parse_call(args: &JsonObject) -> Result<Call, String> {
    const KNOWN: [&str; 6] = ["account", "method", "path", "query", "headers", "body"];
    if let Some(unknown) = args.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "call_api has no argument “{}”: it takes account, method, path, query, headers and body.",
            quoted(unknown)
        ));
    }
    let string = |name: &str| -> Result<String, String> {
        match args.get(name) {
            Some(Value::String(s)) if s.len() <= ARG_MAX => Ok(s.clone()),
            Some(Value::String(_)) => Err(format!("“{name}” is longer than {ARG_MAX} bytes.")),
            None | Some(Value::Null) => Err(format!("call_api needs “{name}” (a string).")),
            Some(_) => Err(format!("“{name}” must be a string.")),
        }
    };
    let account = string("account")?;
    let method = string("method")?.trim().to_ascii_uppercase();
    if method.is_empty() || method.len() > 20 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "“{}” is not an HTTP method: use GET, POST, PUT, PATCH, DELETE or HEAD.",
            quoted(&method)
        ));
    }
    let path = match args.get("path") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err("call_api needs “path” (a string).".into()),
        Some(_) => return Err("“path” must be a string.".into()),
    };
    let mut query = Vec::new();
    match args.get("query") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let mut one = |v: &Value| -> Result<(), String> {
                    let s = scalar(v).ok_or_else(|| {
                        format!(
                            "query “{}” must be a string, number or boolean (or a list of them).",
                            quoted(k)
                        )
                    })?;
                    query.push((k.clone(), s));
                    Ok(())
                };
                match v {
                    Value::Array(items) => items.iter().try_for_each(&mut one)?,
                    v => one(v)?,
                }
            }
        }
        Some(_) => {
            return Err("“query” must be an object of names and values, such as {\"q\": \"x\"}.".into());
        }
    }
    let mut headers = Vec::new();
    match args.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let Some(v) = scalar(v).filter(|v| {
                    v.len() <= ARG_MAX && k.len() <= 256 && !v.chars().chain(k.chars()).any(char::is_control)
                }) else {
                    return Err(format!(
                        "header “{}” is not valid: a short string without control characters.",
                        quoted(k)
                    ));
                };
                if forbidden_header(k) {
                    return Err(format!(
                        "The header “{}” is set by Latchkey or not allowed (Latchkey adds the authorization itself).",
                        quoted(k)
                    ));
                }
                headers.push((k.clone(), v));
            }
        }
        Some(_) => return Err("“headers” must be an object of names and string values.".into()),
    }
    let body = match args.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Object(_) | Value::Array(_))) => {
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            Some(v.to_string())
        }
        Some(_) => return Err("“body” must be a string, or a JSON object or array (sent as JSON).".into()),
    };
    if body.as_ref().is_some_and(|b| b.len() > REQUEST_BODY_MAX) {
        return Err(format!(
            "The request body is larger than {REQUEST_BODY_MAX} bytes (1 MiB); Latchkey does not send it."
        ));
    }
    Ok(Call { account, request: ApiRequest { method, path, query, headers, body } })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The tool result of an API answer: JSON bodies as JSON, others as text.
fn answer(r: ApiResponse) -> CallToolResult {
    let is_json = r.content_type.as_deref().is_some_and(|c| {
        let c = c.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        c == "application/json" || c.ends_with("+json")
    });
    let body = match is_json.then(|| serde_json::from_str::<Value>(&r.body)).and_then(Result::ok) {
        Some(v) if !r.truncated => v,
        _ => Value::String(r.body),
    };
    let value = json!({
        "status": r.status,
        "content_type": r.content_type,
        "body": body,
        "truncated": r.truncated,
        "bytes": r.bytes,
        "location": r.location,
    });
    let mut text = value.to_string();
    if r.truncated {
        text = format!(
            "Note: the response was cut at {RESPONSE_MAX} bytes (1 MiB); the rest was not read. Ask \
             for less (a page, a field selection, a smaller range).\n{text}"
        );
    }
    let mut result = CallToolResult::structured(value);
    result.content = vec![ContentBlock::text(text)];
    result
}

fn schema(value: Value) -> Arc<JsonObject> {
    Arc::new(value.as_object().cloned().unwrap_or_default())
}

fn tools() -> Vec<Tool> {
    let access = json!({"type": "string", "enum": ["none", "read", "full"]});
    let mut list = Tool::new(
        "list_accounts",
        "The person's accounts in Latchkey that you can call through `call_api`, or ask to: for \
         each, `ref` (CONNECTION:IDENTIFIER, what `call_api` takes as `account`), the provider, \
         its API base (paths in `call_api` are relative to it), the identity (email), status \
         (only `active` accounts can be called), `offline` (why the provider cannot be reached \
         right now, or null), the scopes the person granted, and your access: `none` (a call asks \
         the person first), `read` (GET and HEAD) or `full` (any method), with `access_until`. \
         No tokens: Latchkey keeps them.",
        schema(json!({"type": "object", "properties": {}, "additionalProperties": false})),
    );
    list.annotations = Some(ToolAnnotations::with_title("List connected accounts").read_only(true));
    // One account as list_accounts and connect_account show it (`Server::listed`).
    let account = json!({
        "type": "object",
        "properties": {
            "ref": {"type": "string"},
            "provider": {"type": "string"},
            "api_base": {"type": ["string", "null"], "description": "Null: Latchkey cannot call this account's API."},
            "identity": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["active", "expired", "revoked", "error", "suspended"]},
            "offline": {"type": ["string", "null"]},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "access": access,
            "access_until": {"type": ["string", "null"], "description": "RFC 3339; null: until the person removes it."},
        },
        "required": ["ref", "provider", "api_base", "status", "scopes", "access"],
    });
    list.output_schema = Some(schema(json!({
        "type": "object",
        "properties": {
            "consumer": {"type": "string", "description": "Your name in Latchkey's grants and audit trail."},
            "accounts": {"type": "array", "items": account},
        },
        "required": ["consumer", "accounts"],
    })));

    let mut call = Tool::new(
        "call_api",
        "Calls the API of one of the person's accounts: Latchkey adds the account's access token \
         (refreshed when needed) and sends the request to the account's API base (see \
         list_accounts), nowhere else; redirects are returned with their `location`, not \
         followed. Read access allows GET and HEAD, anything else needs full access; without a \
         grant the person is asked first. Returns the HTTP status, content type and body (JSON as JSON, else text), cut at \
         1 MiB (`truncated`). An HTTP error status is a normal result: read the body.",
        schema(json!({
            "type": "object",
            "properties": {
                "account": {"type": "string", "description": "The account's `ref` from list_accounts, such as gmail:alice@example.com."},
                "method": {"type": "string", "description": "The HTTP method.", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]},
                "path": {"type": "string", "description": "The path under the account's API base, such as `gmail/v1/users/me/profile` (no scheme or host, no `..`, no query: use `query`)."},
                "query": {"type": "object", "description": "Query parameters; a list value repeats the name.", "additionalProperties": {"type": ["string", "number", "boolean", "array"]}},
                "headers": {"type": "object", "description": "Extra request headers such as Accept or Content-Type (not Authorization, Cookie or Host).", "additionalProperties": {"type": "string"}},
                "body": {"type": ["string", "object", "array"], "description": "The request body, at most 1 MiB: a string as it is, an object or array as JSON (Content-Type application/json unless given)."},
            },
            "required": ["account", "method", "path"],
            "additionalProperties": false,
        })),
    );
    call.annotations =
        Some(ToolAnnotations::with_title("Call an account's API").destructive(true).open_world(true));
    call.output_schema = Some(schema(json!({
        "type": "object",
        "properties": {
            "status": {"type": "integer"},
            "content_type": {"type": ["string", "null"]},
            "body": {"description": "JSON when the response is JSON, else text."},
            "truncated": {"type": "boolean", "description": "The response was longer than 1 MiB; the rest was not read."},
            "bytes": {"type": "integer"},
            "location": {"type": ["string", "null"], "description": "A redirect's Location header: not followed; call it yourself if it is under the API base."},
        },
        "required": ["status", "content_type", "body", "truncated", "bytes", "location"],
    })));
    let mut connect = Tool::new(
        "connect_account",
        "Asks the person to connect an account of a connection (a provider: github, gmail, …): \
         they see the provider's sign-in page through this client and sign in themselves. \
         Returns the account when it is active, as list_accounts shows it, or an error when the \
         person declined or the client cannot show the page. You never see a password or token, \
         and calling the account still needs their consent. Use it only when the person wants an \
         account connected.",
        schema(json!({
            "type": "object",
            "properties": {
                "connection": {"type": "string", "description": "The connection's name, such as github, gmail or microsoft."},
                "identifier": {"type": "string", "description": "A name for the account (default: its email); the sign-in must then be that account's."},
            },
            "required": ["connection"],
            "additionalProperties": false,
        })),
    );
    connect.annotations = Some(ToolAnnotations::with_title("Connect an account").open_world(true));
    connect.output_schema = Some(schema(account));
    vec![list, call, connect]
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("latchkey", env!("CARGO_PKG_VERSION"))
                    .with_title("Latchkey")
                    .with_description(
                        "The person's connected accounts, called with tokens that stay in Latchkey.",
                    ),
            )
            .with_instructions(INSTRUCTIONS)
    }

    // Elicitation is a server-to-client request, which the protocol after 2025-11-25 replaces; so
    // are clientInfo and `initialize`, which name the consumer.
    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::LATEST_WITH_INITIALIZE))
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        if self.consumer.is_none()
            && let Err(e) = check_consumer(&request.client_info.name)
        {
            let why = invalid_client_name(&request.client_info.name, &e);
            let _ =
                std::io::Write::write_all(&mut std::io::stderr(), format!("latchkey: {why}\n").as_bytes());
            return Err(McpError::invalid_params(why, None));
        }
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let consumer = match self.consumer(&context) {
            Ok(c) => c,
            Err(why) => return Ok(text_error(why).into()),
        };
        let empty = JsonObject::new();
        let args = request.arguments.as_ref().unwrap_or(&empty);
        let result = match request.name.as_ref() {
            "list_accounts" => self.list_accounts(&consumer),
            "call_api" => self.call_api(&context, &consumer, args).await,
            "connect_account" => self.connect_account(&context, &consumer, args).await,
            other => Err(format!(
                "There is no tool “{}”: Latchkey's tools are list_accounts, call_api and connect_account.",
                quoted(other)
            )),
        };
        Ok(result.unwrap_or_else(text_error).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn call_arguments_are_checked_for_type_and_size() {
        let ok = parse_call(&args(json!({
            "account": "test:a", "method": "post", "path": "me",
            "query": {"q": "x", "n": 2, "tag": ["a", "b"]}, "body": {"k": 1},
        })))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.request.method, "POST");
        assert_eq!(ok.request.query.len(), 4);
        assert_eq!(ok.request.body.as_deref(), Some(r#"{"k":1}"#));
        assert!(ok.request.headers.iter().any(|(k, v)| k == "Content-Type" && v == "application/json"));
        for (bad, says) in [
            (json!({"method": "GET", "path": "me"}), "needs “account”"),
            (json!({"account": 5, "method": "GET", "path": "me"}), "“account” must be a string"),
            (json!({"account": "a:b", "method": "GE T", "path": "me"}), "not an HTTP method"),
            (json!({"account": "a:b", "method": "GET", "path": ["me"]}), "“path” must be a string"),
            (
                json!({"account": "a:b", "method": "GET", "path": "me", "query": "a=b"}),
                "“query” must be an object",
            ),
            (json!({"account": "a:b", "method": "GET", "path": "me", "query": {"a": {"b": 1}}}), "query “a”"),
            (
                json!({"account": "a:b", "method": "GET", "path": "me", "headers": {"Authorization": "x"}}),
                "set by Latchkey",
            ),
            (json!({"account": "a:b", "method": "GET", "path": "me", "body": 5}), "“body” must be"),
            (json!({"account": "a:b", "method": "GET", "path": "me", "paht": "x"}), "no argument “paht”"),
            (json!({"account": "x".repeat(ARG_MAX + 1), "method": "GET", "path": "me"}), "longer than"),
            (
                json!({"account": "a:b", "method": "POST", "path": "me", "body": "x".repeat(REQUEST_BODY_MAX + 1)}),
                "larger than",
            ),
        ] {
            match parse_call(&args(bad.clone())) {
                Ok(_) => panic!("accepted: {bad}"),
                Err(e) => assert!(e.contains(says), "{e} / {says}"),
            }
        }
    }

    #[test]
    fn the_grant_command_is_quoted_for_a_shell() {
        assert_eq!(shell_quote(r#"a "b" $c `d` \e"#), r#""a \"b\" \$c \`d\` \\e""#);
        let text = no_consent("Claude Desktop", "gmail:a@b.c", Access::Full);
        assert!(text.ends_with("latchkey grants add \"Claude Desktop\" gmail:a@b.c --access full"), "{text}");
    }

    #[test]
    fn the_apps_answer_decides_the_consent_and_no_app_leaves_it_to_the_grant() {
        let r = "test:a@b.c";
        let once = after_app(Ok(Some(ConsentAnswer::Once)), "x", r, Access::Full);
        assert_eq!(once, Ok(Decided::Consent(Consent::Once(Access::Full))));
        let always = after_app(Ok(Some(ConsentAnswer::Always)), "x", r, Access::Read);
        assert_eq!(always, Ok(Decided::Consent(Consent::Granted)));
        let denied = after_app(Ok(Some(ConsentAnswer::Deny)), "x", r, Access::Read);
        assert!(denied.is_err_and(|e| e.contains("declined") && e.contains("nothing was remembered")));
        for none in [Ok(None), Err(Error::Storage("no bus".into()))] {
            assert_eq!(after_app(none, "x", r, Access::Read), Ok(Decided::Unasked));
        }
    }

    #[test]
    fn json_answers_are_json_and_cut_ones_say_so() {
        let r = |ct: &str, body: &str, truncated: bool| ApiResponse {
            status: 200,
            content_type: Some(ct.into()),
            body: body.into(),
            truncated,
            bytes: body.len(),
            location: None,
        };
        let j = answer(r("application/json; charset=utf-8", r#"{"a":1}"#, false));
        assert_eq!(j.structured_content.as_ref().map(|v| v["body"]["a"].clone()), Some(json!(1)));
        let t = answer(r("text/plain", "hi", false));
        assert_eq!(t.structured_content.as_ref().map(|v| v["body"].clone()), Some(json!("hi")));
        let cut = answer(r("application/json", r#"{"a":"#, true));
        assert_eq!(cut.structured_content.as_ref().map(|v| v["body"].clone()), Some(json!(r#"{"a":"#)));
        let text = format!("{:?}", cut.content);
        assert!(text.contains("cut at 1048576 bytes"), "{text}");
    }
}
