//! The app side of the consent desk (`latchkey_core::consent`): the desk runs while the app does,
//! and each question it gets goes to the window (`consent-requested`, the window shown and
//! focused), one dialog at a time, until `answer_consent` resolves it. "Always allow" stores the
//! grant (actor: the user) before the desk answers. A question that ends otherwise (the desk's
//! deadline, its asker gone) is announced as `consent-ended`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use latchkey_core::consent::{ConsentAnswer, ConsentPurpose, ConsentRequest, Desk};
use latchkey_core::model::Actor;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::oneshot;

use crate::dto::{ConsentAnswerDto, ConsentPurposeDto, ConsentRequestDto, ErrorDto};
use crate::setup::AppState;

struct Question {
    dto: ConsentRequestDto,
    request: ConsentRequest,
    reply: oneshot::Sender<ConsentAnswer>,
}

/// The desk, and the questions waiting for the person, oldest first.
#[derive(Default)]
pub struct Consents {
    next: AtomicU32,
    questions: Mutex<BTreeMap<u32, Question>>,
    desk: Mutex<Option<Desk>>,
}

impl Consents {
    fn questions(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Question>> {
        self.questions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn desk(&self) -> std::sync::MutexGuard<'_, Option<Desk>> {
        self.desk.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The questions waiting, oldest first (a window made after they were sent asks for them).
    pub fn pending(&self) -> Vec<ConsentRequestDto> {
        self.questions().values().map(|q| q.dto.clone()).collect()
    }

    /// Whether a question waits for the person.
    pub fn waiting(&self) -> bool {
        !self.questions().is_empty()
    }

    /// Resolves question `id`: for "always", stores the grant first (and keeps the question if
    /// that fails, so the person can answer again).
    pub fn answer(
        &self,
        core: &latchkey_core::Latchkey,
        id: u32,
        answer: ConsentAnswerDto,
    ) -> Result<(), ErrorDto> {
        let mut questions = self.questions();
        let Some(q) = questions.get(&id) else {
            return Err(ErrorDto::invalid(
                "This question is no longer waiting: it was answered, it timed out, or the program stopped asking.",
            ));
        };
        if answer == ConsentAnswerDto::Always {
            core.add_grant(&q.request.consumer, &q.request.account, q.request.access, None, &Actor::User)?;
        }
        if let Some(q) = questions.remove(&id) {
            let _ = q.reply.send(match answer {
                ConsentAnswerDto::Once => ConsentAnswer::Once,
                ConsentAnswerDto::Always => ConsentAnswer::Always,
                ConsentAnswerDto::Deny => ConsentAnswer::Deny,
            });
        }
        Ok(())
    }
}

/// Starts the desk in the core's data folder; `show` brings the window up for a question.
pub fn start<R: Runtime>(app: &AppHandle<R>, show: fn(&AppHandle<R>)) {
    if app.try_state::<Consents>().is_none() {
        app.manage(Consents::default());
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let core = app.state::<AppState>().core.clone();
        let asker = app.clone();
        match Desk::start(core.data_dir(), move |r| ask(asker.clone(), r, show)).await {
            // One started before (a failed rest) stops; the address file is already the new one's.
            Ok(desk) => drop(app.state::<Consents>().desk().replace(desk)),
            Err(e) => tracing::warn!("no consent desk: programs cannot ask here ({e})"),
        }
    });
}

/// Stops the desk (its address file goes): programs then hear that the app is not running.
pub fn stop<R: Runtime>(app: &AppHandle<R>) {
    if let Some(consents) = app.try_state::<Consents>() {
        drop(consents.desk().take());
    }
}

/// Stops the desk as this process becomes `latchkey-tray`: programs that ask meanwhile wait for
/// the tray's desk.
pub fn hand_over<R: Runtime>(app: &AppHandle<R>) {
    if let Some(desk) = app.try_state::<Consents>().and_then(|c| c.desk().take()) {
        desk.hand_over();
    }
}

/// Whether a question waits for the person.
pub fn waiting<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<Consents>().is_some_and(|c| c.waiting())
}

/// Removes its question, if still there, and tells the window, when the desk is done with it.
struct Over<R: Runtime> {
    app: AppHandle<R>,
    id: u32,
}

impl<R: Runtime> Drop for Over<R> {
    fn drop(&mut self) {
        if let Some(consents) = self.app.try_state::<Consents>() {
            consents.questions().remove(&self.id);
        }
        crate::events::CONSENT_ENDED.emit(&self.app, self.id);
    }
}

async fn ask<R: Runtime>(
    app: AppHandle<R>,
    request: ConsentRequest,
    show: fn(&AppHandle<R>),
) -> ConsentAnswer {
    let core = app.state::<AppState>().core.clone();
    let Ok(account) = core.get_account(&request.account) else { return ConsentAnswer::Deny };
    let consents = app.state::<Consents>();
    let id = consents.next.fetch_add(1, Ordering::SeqCst) + 1;
    let identity =
        account.identity.as_ref().and_then(|i| i.email.clone()).unwrap_or_else(|| account.identifier.clone());
    let dto = ConsentRequestDto {
        id,
        consumer: request.consumer.clone(),
        account_id: account.id.to_string(),
        account_ref: format!("{}:{}", account.connection, account.identifier),
        connection_name: core.connection_name(&account.connection),
        identity,
        access: request.access.into(),
        purpose: match request.purpose {
            ConsentPurpose::ApiCall => ConsentPurposeDto::ApiCall,
            ConsentPurpose::Token => ConsentPurposeDto::Token,
        },
    };
    let (reply, answer) = oneshot::channel();
    consents.questions().insert(id, Question { dto: dto.clone(), request, reply });
    let _over = Over { app: app.clone(), id };
    tracing::info!(id, consumer = %dto.consumer, account = %dto.account_ref, "consent asked");
    crate::events::CONSENT_REQUESTED.emit(&app, dto);
    let shown = app.clone();
    if app.run_on_main_thread(move || show(&shown)).is_err() {
        tracing::warn!("could not show the window for a consent question");
    }
    answer.await.unwrap_or(ConsentAnswer::Deny)
}
