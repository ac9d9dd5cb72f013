//! The forms to sign in, to sign up (with a join link's code when there is one), and to
//! choose a new password with a reset link. One form at a time, in the page's flow (it
//! covers nothing); a refusal stays beside it until the next attempt.

use leptos::prelude::*;

use super::{AccountState, Form};
use crate::auth::{AuthError, AuthFailure, ResetPassword, SignIn, SignUp, validate_password};
use crate::events::{MAX_NAME_CHARS, validate_name};

/// What a form sends: checked here first, as the server checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) enum Attempt {
    SignIn(SignIn),
    SignUp(SignUp),
    Reset(ResetPassword),
}

impl Attempt {
    /// The request `form` makes of what was typed, or why it would be refused.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub(crate) fn of(
        form: Form,
        name: &str,
        password: &str,
        code: &str,
    ) -> Result<Attempt, String> {
        let name = name.trim();
        let code = code.trim();
        let password = password.to_owned();
        match form {
            Form::SignIn => {
                if name.is_empty() || password.is_empty() {
                    return Err("Type your name and password".to_owned());
                }
                Ok(Attempt::SignIn(SignIn {
                    name: name.to_owned(),
                    password,
                }))
            }
            Form::SignUp => {
                if validate_name(name).is_err() {
                    return Err(AuthFailure::from(AuthError::InvalidName {
                        max: MAX_NAME_CHARS,
                    })
                    .message);
                }
                validate_password(&password).map_err(|e| e.to_string())?;
                Ok(Attempt::SignUp(SignUp {
                    name: name.to_owned(),
                    password,
                    invite: (!code.is_empty()).then(|| code.to_owned()),
                }))
            }
            Form::Reset => {
                if code.is_empty() {
                    return Err("This reset link has no code: ask for a new one".to_owned());
                }
                validate_password(&password).map_err(|e| e.to_string())?;
                Ok(Attempt::Reset(ResetPassword {
                    code: code.to_owned(),
                    password,
                }))
            }
        }
    }
}

/// The form on screen, if any. Its code is loaded when a form first opens (`ui::lazy`): no
/// form is open when the page loads.
#[component]
pub(crate) fn AuthForms(account: AccountState, hydrated: Signal<bool>) -> impl IntoView {
    view! {
        <Show when=move || account.form.with(Option::is_some)>
            {crate::ui::lazy::auth_forms(account, hydrated)}
        </Show>
    }
}

#[component]
pub(crate) fn Forms(account: AccountState, hydrated: Signal<bool>) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let form = account.form;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(kind) = form.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        let code = match kind {
            Form::Reset => account.reset.get_untracked(),
            _ => account.invite.get_untracked(),
        };
        let attempt = Attempt::of(
            kind,
            &account.name.get_untracked(),
            &password.get_untracked(),
            &code,
        );
        match attempt {
            Err(why) => error.set(Some(why)),
            Ok(attempt) => {
                error.set(None);
                #[cfg(feature = "hydrate")]
                send(attempt, busy, error);
                #[cfg(not(feature = "hydrate"))]
                let _ = attempt;
            }
        }
    };
    let switch = move |to: Form| {
        error.set(None);
        account.note.set(None);
        form.set(Some(to));
    };
    let heading = move || match form.get() {
        Some(Form::SignIn) => "Sign in",
        Some(Form::SignUp) => "Sign up",
        Some(Form::Reset) => "Choose a new password",
        None => "",
    };
    let submit_label = move || match form.get() {
        Some(Form::SignIn) => "Sign in",
        Some(Form::SignUp) => "Sign up",
        _ => "Save the new password",
    };
    let names = move || matches!(form.get(), Some(Form::SignIn | Form::SignUp));
    let invites = move || form.get() == Some(Form::SignUp);

    view! {
        <Show when=move || form.get().is_some()>
            <form
                class="auth-form"
                data-testid="auth-form"
                data-form=move || match form.get() {
                    Some(Form::SignIn) => "sign-in",
                    Some(Form::SignUp) => "sign-up",
                    _ => "reset",
                }
                aria-labelledby="auth-heading"
                on:submit=submit
            >
                <h2 id="auth-heading">{heading}</h2>
                <p class="auth-note" data-testid="auth-note" role="status">{move || account.note.get()}</p>
                <Show when=names>
                    <label>
                        "Account name "
                        <input
                            id="auth-name"
                            autocomplete="username"
                            maxlength=MAX_NAME_CHARS.to_string()
                            prop:value=move || account.name.get()
                            on:input=move |ev| account.name.set(event_target_value(&ev))
                            disabled=move || !hydrated.get()
                        />
                    </label>
                </Show>
                <label>
                    {move || if names() && !invites() { "Password " } else { "New password " }}
                    <input
                        id="auth-password"
                        type="password"
                        autocomplete=move || if form.get() == Some(Form::SignIn) { "current-password" } else { "new-password" }
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                        disabled=move || !hydrated.get()
                    />
                </label>
                <Show when=invites>
                    <label>
                        "Invite code "
                        <input
                            id="auth-invite"
                            autocomplete="off"
                            placeholder="From a join link, if you have one"
                            prop:value=move || account.invite.get()
                            on:input=move |ev| account.invite.set(event_target_value(&ev))
                            disabled=move || !hydrated.get()
                        />
                    </label>
                </Show>
                <button type="submit" disabled=move || !hydrated.get() || busy.get()>{submit_label}</button>
                <Show when=names>
                    <button
                        type="button"
                        class="link"
                        on:click=move |_| switch(if form.get_untracked() == Some(Form::SignIn) { Form::SignUp } else { Form::SignIn })
                    >
                        {move || if form.get() == Some(Form::SignIn) { "New here? Sign up" } else { "Have an account? Sign in instead" }}
                    </button>
                </Show>
                <button type="button" class="link" on:click=move |_| { error.set(None); form.set(None); }>"Close"</button>
                <p class="auth-error" data-testid="auth-error" role="alert">{move || error.get()}</p>
            </form>
        </Show>
    }
}

/// Sends the attempt; on success the page reloads signed in, otherwise it says why.
#[cfg(feature = "hydrate")]
fn send(attempt: Attempt, busy: RwSignal<bool>, error: RwSignal<Option<String>>) {
    use super::http::{RESET, SIGN_IN, SIGN_UP, browser::post};
    busy.set(true);
    leptos::task::spawn_local(async move {
        let answer = match &attempt {
            Attempt::SignIn(body) => post(SIGN_IN, body).await,
            Attempt::SignUp(body) => post(SIGN_UP, body).await,
            Attempt::Reset(body) => post(RESET, body).await,
        };
        match answer {
            Ok(signed) => {
                super::kept::signed_in(&signed.name);
                super::reload();
            }
            Err(failure) => {
                busy.set(false);
                error.set(Some(failure.message));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_up_checks_name_and_password_and_takes_the_invite() {
        assert!(Attempt::of(Form::SignUp, "no spaces", "long enough", "").is_err());
        let short = Attempt::of(Form::SignUp, "ann", "short", "").unwrap_err();
        assert!(short.contains("8 characters"), "{short}");
        assert_eq!(
            Attempt::of(Form::SignUp, " ann ", "long enough", " c0de "),
            Ok(Attempt::SignUp(SignUp {
                name: "ann".into(),
                password: "long enough".into(),
                invite: Some("c0de".into()),
            }))
        );
        assert_eq!(
            Attempt::of(Form::SignUp, "ann", "long enough", ""),
            Ok(Attempt::SignUp(SignUp {
                name: "ann".into(),
                password: "long enough".into(),
                invite: None,
            }))
        );
    }

    #[test]
    fn sign_in_leaves_judging_the_password_to_the_server() {
        // A short password is wrong, not weak: the server counts it as a failed attempt.
        assert!(matches!(
            Attempt::of(Form::SignIn, "ann", "x", ""),
            Ok(Attempt::SignIn(_))
        ));
        assert!(Attempt::of(Form::SignIn, "", "x", "").is_err());
        assert!(Attempt::of(Form::SignIn, "ann", "", "").is_err());
    }

    #[test]
    fn a_reset_needs_its_code_and_a_good_password() {
        assert!(Attempt::of(Form::Reset, "", "long enough", "").is_err());
        assert!(Attempt::of(Form::Reset, "", "short", "code").is_err());
        assert_eq!(
            Attempt::of(Form::Reset, "", "long enough", "code"),
            Ok(Attempt::Reset(ResetPassword {
                code: "code".into(),
                password: "long enough".into(),
            }))
        );
    }
}
