//! `/admin`'s join links (administrators only): make one (for some hours, for some sign-ups,
//! or without limits), see every one with its uses, and revoke one.

use leptos::prelude::*;

use super::handle::AdminHandle;
use super::people::origin;
use crate::events::{CreateInvite, Invite, ListInvites, RevokeInvite};
use crate::ui::time::utc_iso;

type Invites = RwSignal<Option<Vec<Invite>>>;

#[component]
pub(crate) fn InvitesPanel(
    admin: AdminHandle,
    feedback: RwSignal<Option<String>>,
) -> impl IntoView {
    let hours = RwSignal::new(String::new());
    let uses = RwSignal::new(String::new());
    let invites: Invites = RwSignal::new(None);
    // The link made last: its code is shown this once.
    let made = RwSignal::new(None::<String>);
    Effect::new(move |_| list(admin, invites, feedback));
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = match limits(&hours.get_untracked(), &uses.get_untracked()) {
            Ok(request) => request,
            Err(why) => return feedback.set(Some(why)),
        };
        admin.ask(request, move |answer| match answer {
            Ok(created) => {
                made.set(Some(format!("{}/#invite={}", origin(), created.code)));
                list(admin, invites, feedback);
            }
            Err(e) => feedback.set(Some(format!("No invite made: {e}"))),
        });
    };
    view! {
        <section class="admin-action invites" data-testid="invites" aria-labelledby="invites-heading">
            <h2 id="invites-heading">"Invites"</h2>
            <form class="invite-form" on:submit=create>
                <input
                    type="number"
                    min="1"
                    aria-label="Expires in hours"
                    placeholder="Hours (none: for ever)"
                    prop:value=move || hours.get()
                    on:input=move |ev| hours.set(event_target_value(&ev))
                />
                <input
                    type="number"
                    min="1"
                    aria-label="Most sign-ups"
                    placeholder="Sign-ups (none: any)"
                    prop:value=move || uses.get()
                    on:input=move |ev| uses.set(event_target_value(&ev))
                />
                <button type="submit">"Create invite"</button>
            </form>
            {move || made.get().map(|link| view! {
                <p class="invite-made">
                    "Join link (shown this once): "
                    <input class="link-out" data-testid="invite-link" readonly prop:value=link aria-label="Join link to copy"/>
                </p>
            })}
            <table class="invites-table">
                <thead><tr><th>"Made"</th><th>"By"</th><th>"Uses"</th><th>"Expires"</th><th>"State"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    <For
                        each=move || invites.get().unwrap_or_default()
                        key=|i| (i.id.clone(), i.uses, i.revoked)
                        children=move |i| view! { <InviteRow admin invite=i invites feedback/> }
                    />
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn InviteRow(
    admin: AdminHandle,
    invite: Invite,
    invites: Invites,
    feedback: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = StoredValue::new(invite.id.clone());
    let revoke = move |_| {
        admin.ask(
            RevokeInvite { id: id.get_value() },
            move |answer| match answer {
                Ok(_) => list(admin, invites, feedback),
                Err(e) => feedback.set(Some(format!("Not revoked: {e}"))),
            },
        );
    };
    let used = match invite.max_uses {
        Some(max) => format!("{} of {max}", invite.uses),
        None => invite.uses.to_string(),
    };
    view! {
        <tr data-testid="invite" data-invite=invite.id.clone() data-revoked=invite.revoked.to_string()>
            <td>{utc_iso(invite.created_at)}</td>
            <td>{invite.created_by.clone().unwrap_or_else(|| "admin token".to_owned())}</td>
            <td data-testid="invite-uses">{used}</td>
            <td>{invite.expires_at.map_or_else(|| "never".to_owned(), utc_iso)}</td>
            <td data-testid="invite-state">{if invite.revoked { "revoked" } else { "open" }}</td>
            <td>
                {(!invite.revoked).then(|| view! { <button type="button" on:click=revoke>"Revoke"</button> })}
            </td>
        </tr>
    }
}

fn list(admin: AdminHandle, invites: Invites, feedback: RwSignal<Option<String>>) {
    admin.ask(ListInvites {}, move |answer| match answer {
        Ok(all) => invites.set(Some(all)),
        Err(e) => feedback.set(Some(format!("Cannot list invites: {e}"))),
    });
}

/// The request for what the form holds: empty fields mean no limit.
fn limits(hours: &str, uses: &str) -> Result<CreateInvite, String> {
    let number = |text: &str, what: &str| -> Result<Option<u32>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "{what} is a whole number above 0, or empty for no limit"
            )),
        }
    };
    Ok(CreateInvite {
        expires_in_hours: number(hours, "Hours")?,
        max_uses: number(uses, "Sign-ups")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_mean_no_limit_and_others_must_be_counts() {
        assert_eq!(limits("", " "), Ok(CreateInvite::default()));
        assert_eq!(
            limits("24", "3"),
            Ok(CreateInvite {
                expires_in_hours: Some(24),
                max_uses: Some(3)
            })
        );
        assert!(limits("0", "").is_err());
        assert!(limits("", "-1").is_err());
        assert!(limits("1.5", "").is_err());
    }
}
