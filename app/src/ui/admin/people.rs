//! `/admin`'s people (administrators only): find a person, give an account a role, make a
//! password reset link for them.

use leptos::prelude::*;

use super::handle::AdminHandle;
use crate::events::{ListPeople, MakeResetLink, PersonInfo, Role, SetRole};

/// The people as last listed; `None` before the first list.
type People = RwSignal<Option<Vec<PersonInfo>>>;

#[component]
pub(crate) fn PeoplePanel(admin: AdminHandle, feedback: RwSignal<Option<String>>) -> impl IntoView {
    let matching = RwSignal::new(String::new());
    let people: People = RwSignal::new(None);
    // The reset link made last: (name, link).
    let reset = RwSignal::new(None::<(String, String)>);
    let search = move || list(admin, matching.get_untracked(), people, feedback);
    Effect::new(move |_| search());
    view! {
        <section class="admin-action people" data-testid="people" aria-labelledby="people-heading">
            <h2 id="people-heading">"People"</h2>
            <form class="people-search" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); search(); }>
                <input
                    type="search"
                    aria-label="Find people"
                    placeholder="Name contains…"
                    prop:value=move || matching.get()
                    on:input=move |ev| matching.set(event_target_value(&ev))
                />
                <button type="submit">"Search"</button>
            </form>
            {move || reset.get().map(|(name, link)| view! {
                <p class="reset-made" data-testid="reset-made">
                    {format!("Reset link for {name} (works once, for 24 hours): ")}
                    <input class="link-out" data-testid="reset-link" readonly prop:value=link aria-label="Reset link to copy"/>
                </p>
            })}
            <table class="people-table">
                <thead><tr><th>"Name"</th><th>"Role"</th><th>"Account"</th><th>"Banned"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    <For
                        each=move || people.get().unwrap_or_default()
                        key=|p| (p.name.clone(), p.role, p.account, p.banned)
                        children=move |p| view! { <PersonRow admin person=p people reset feedback/> }
                    />
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn PersonRow(
    admin: AdminHandle,
    person: PersonInfo,
    people: People,
    reset: RwSignal<Option<(String, String)>>,
    feedback: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = StoredValue::new(person.name.clone());
    let set_role = move |ev: leptos::ev::Event| {
        let Some(role) = Role::parse(&event_target_value(&ev)) else {
            return;
        };
        let name = name.get_value();
        admin.ask(
            SetRole {
                name: name.clone(),
                role,
            },
            move |answer| match answer {
                Ok(changed) => {
                    feedback.set(Some(format!(
                        "{} is now {}",
                        changed.name,
                        changed.role.as_str()
                    )));
                    people.update(|list| {
                        if let Some(row) =
                            list.iter_mut().flatten().find(|p| p.name == changed.name)
                        {
                            *row = changed;
                        }
                    });
                }
                Err(e) => feedback.set(Some(format!("Role of {name} not changed: {e}"))),
            },
        );
    };
    let make_reset = move |_| {
        let name = name.get_value();
        admin.ask(
            MakeResetLink { name: name.clone() },
            move |answer| match answer {
                Ok(made) => reset.set(Some((made.name, reset_link(&made.code)))),
                Err(e) => feedback.set(Some(format!("No reset link for {name}: {e}"))),
            },
        );
    };
    let role = person.role;
    view! {
        <tr data-testid="person" data-name=person.name.clone() data-role=role.as_str()>
            <td class="name">{person.name.clone()}</td>
            <td>
                <select
                    aria-label=format!("Role of {}", person.name)
                    disabled=!person.account
                    on:change=set_role
                >
                    {Role::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == role>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </td>
            <td data-testid="person-account">{if person.account { "yes" } else { "no" }}</td>
            <td data-testid="person-banned">{if person.banned { "yes" } else { "no" }}</td>
            <td>
                <button
                    type="button"
                    aria-label=format!("Reset link for {}", person.name)
                    disabled=!person.account
                    on:click=make_reset
                >
                    "Reset link"
                </button>
            </td>
        </tr>
    }
}

fn list(admin: AdminHandle, matching: String, people: People, feedback: RwSignal<Option<String>>) {
    let matching = matching.trim().to_owned();
    let request = ListPeople {
        matching: (!matching.is_empty()).then_some(matching),
        after: None,
    };
    admin.ask(request, move |answer| match answer {
        Ok(found) => people.set(Some(found)),
        Err(e) => feedback.set(Some(format!("Cannot list people: {e}"))),
    });
}

/// The page's link that opens the "choose a new password" form.
fn reset_link(code: &str) -> String {
    format!("{}/#reset={code}", origin())
}

/// This site's origin (`https://chat.example`), as links to it begin.
pub(super) fn origin() -> String {
    #[cfg(feature = "hydrate")]
    return web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    #[cfg(not(feature = "hydrate"))]
    String::new()
}
