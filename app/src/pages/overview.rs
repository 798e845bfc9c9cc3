//! Site admins: the overview, charts drawn on the server.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::overview::{DELIVERY_DAYS, Overview, WEEKS_SHOWN, overview_page};
use crate::components::chart::{BarChart, LineChart};
use crate::components::page_error::guarded;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| overview_page());
    view! {
        <Title text="Overview" />
        <h1>"Overview"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                overview
                    .get()
                    .map(|answer| guarded(answer, |data| view! { <Charts data /> }.into_any()))
            }}
        </Suspense>
    }
}

#[component]
fn Charts(data: Overview) -> impl IntoView {
    view! {
        <p class="lead" data-testid="overview-head">
            {format!(
                "{} numbers are privileged now; the change feed's head is seq {}.",
                data.privileged,
                data.head,
            )}
        </p>
        <div class="chart-grid-layout">
            <BarChart
                title=format!("New registrations per week (last {WEEKS_SHOWN} weeks)")
                id="chart-registrations".into()
                unit="registrations".into()
                points=data.registrations
            />
            <LineChart
                title=format!("Numbers in the registry, end of each week (last {WEEKS_SHOWN})")
                id="chart-registry-size".into()
                unit="numbers".into()
                points=data.registry_size
            />
            <BarChart
                title="How far each provider is behind (changes not acknowledged)".into()
                id="chart-provider-lag".into()
                unit="changes behind".into()
                points=data.provider_lag
            />
            <BarChart
                title="How long each facility's oldest unapplied change has waited (minutes)"
                    .into()
                id="chart-facility-lag".into()
                unit="minutes".into()
                points=data.facility_lag
            />
            <BarChart
                title=format!("Code deliveries by outcome (last {DELIVERY_DAYS} days)")
                id="chart-deliveries".into()
                unit="codes".into()
                points=data.deliveries
            />
        </div>
    }
}
