//! `/admin`: spend now, today and this month; the daily trend; who is near their limits; and
//! every user's use with their plan, editable. Server-rendered and built from plain forms, so
//! it works before hydration; `?all=1` includes admins' and test accounts' generations.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{auth_pages::Landing, layout::ChatLayout, spend_chart::SpendChart, viewer_resource};
use crate::admin::{AdminOverview, AdminUser};
use crate::api::{load_admin_overview, UpdatePlan};
use crate::protocol::{dollars, Tier};

#[component]
pub fn AdminPage() -> impl IntoView {
    let viewer = viewer_resource();
    let query = use_query_map();
    let include_exempt = move || query.read().get("all").is_some_and(|v| v == "1");
    let update = ServerAction::<UpdatePlan>::new();
    let overview =
        Resource::new(move || (include_exempt(), update.version().get()), |(all, _)| load_admin_overview(all));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let user = viewer.await.ok().flatten();
                let data = overview.await;
                match (user, data) {
                    (None, _) => view! { <Landing/> }.into_any(),
                    (Some(user), Ok(Some(o))) => view! {
                        <ChatLayout user><Dashboard o update/></ChatLayout>
                    }.into_any(),
                    (Some(user), Ok(None)) => view! {
                        <ChatLayout user><p class="notice" role="alert">"Only admins can see this page."</p></ChatLayout>
                    }.into_any(),
                    (Some(user), Err(_)) => view! {
                        <ChatLayout user><p class="notice" role="alert">"The admin page could not be loaded. Please try again."</p></ChatLayout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Dashboard(o: AdminOverview, update: ServerAction<UpdatePlan>) -> impl IntoView {
    let alert = o.alert();
    let cap_reached = o.cap_reached();
    let near: Vec<AdminUser> = o.users.iter().filter(|u| u.near_limit()).cloned().collect();
    let (toggle_href, toggle_text) = match o.include_exempt {
        true => ("/admin", "Leave out test and admin generations"),
        false => ("/admin?all=1", "Include test and admin generations"),
    };
    let error = move || update.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <section class="admin">
            <h1>"Admin"</h1>
            {cap_reached.map(|a| view! { <p class="banner alert" role="alert">{a}</p> })}
            {alert.map(|a| view! { <p class="banner alert" role="alert">{a}</p> })}
            <p class="muted">
                {if o.include_exempt { "Including test and admin generations. " } else { "Test and admin generations left out. " }}
                <a href=toggle_href>{toggle_text}</a>
            </p>
            <h2>"Spend"</h2>
            <dl class="totals">
                <div><dt>"Total"</dt><dd>{dollars(o.totals.all_time)}</dd></div>
                <div><dt>"Today"</dt><dd>{dollars(o.totals.today)}</dd></div>
                <div><dt>"This month"</dt><dd>{dollars(o.totals.month)}</dd></div>
                <div>
                    <dt>"Chat model this month"</dt>
                    <dd>{format!("{} ({} calls, {} tokens)", dollars(o.chat_month.spent), o.chat_month.calls, o.chat_month.tokens)}</dd>
                </div>
            </dl>
            <h2>"Daily trend"</h2>
            <SpendChart days=o.days.clone()/>
            <h2>"Near their limits"</h2>
            {if near.is_empty() {
                view! { <p class="muted">"Nobody is at 80 % of a limit."</p> }.into_any()
            } else {
                view! {
                    <ul class="near">
                        {near.into_iter().map(|u| view! { <li>{u.username.clone()} ": " {usage_text(&u)}</li> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <h2>"Users"</h2>
            {move || error().map(|e| view! { <p class="notice" role="alert">{e}</p> })}
            <div class="table-scroll">
                <table class="users">
                    <thead>
                        <tr>
                            <th scope="col">"User"</th>
                            <th scope="col">"Images (hour / day / month)"</th>
                            <th scope="col">"Spend this month"</th>
                            <th scope="col">"Spend in all"</th>
                            <th scope="col">"Plan"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {o.users.into_iter().map(|u| view! { <UserRow u update/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

fn usage_text(u: &AdminUser) -> String {
    format!("{}/{} · {}/{} · {}/{}", u.used[0], u.limits[0], u.used[1], u.limits[1], u.used[2], u.limits[2])
}

#[component]
fn UserRow(u: AdminUser, update: ServerAction<UpdatePlan>) -> impl IntoView {
    let label = format!("Plan of {}", u.username);
    let test_label = format!("{} is a test account", u.username);
    let near = u.near_limit();
    view! {
        <tr class:near=near>
            <th scope="row">{u.username.clone()}</th>
            <td>{usage_text(&u)}</td>
            <td>{format!("{} of {}", dollars(u.spent_month), dollars(u.spend_cap))}</td>
            <td>{dollars(u.spent_all)}</td>
            <td>
                <ActionForm action=update attr:class="plan-form">
                    <input type="hidden" name="user_id" value=u.id.0.to_string()/>
                    <select name="tier" aria-label=label>
                        <option value="free" selected=u.tier == Tier::Free>"Free"</option>
                        <option value="premium" selected=u.tier == Tier::Premium>"Premium"</option>
                    </select>
                    <label class="check">
                        <input type="checkbox" name="test_account" value="on" checked=u.test_account aria-label=test_label/>
                        "Test"
                    </label>
                    <button type="submit" class="secondary">"Save"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
