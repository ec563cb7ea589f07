//! A cost estimate as a table.

use awcopy_engine::estimate::{Estimate, EstimateNote, Route};
use std::io::Write;

use super::write_failed;
use crate::failure::Failure;

/// Prints an estimate as a table.
pub fn print_estimate(
    out: &mut impl Write,
    estimate: &Estimate,
    to: Option<&str>,
) -> Result<(), Failure> {
    let target = match (to, estimate.route) {
        (Some(to), Some(route)) => format!("copying to {to} ({})", route_name(route)),
        _ => "downloading it".to_owned(),
    };
    let mut text = format!(
        "\nEstimated cost of {target}, {} at the providers' list prices as of {} (no discounts):\n",
        estimate.currency, estimate.prices_as_of
    );
    for line in &estimate.lines {
        text.push_str(&format!(
            "  {:<58} {:>16.3} {:<8} {:>12.4}\n",
            line.item, line.quantity, line.unit, line.cost
        ));
    }
    text.push_str(&format!(
        "  {:<58} {:>16} {:<8} {:>12.4}\n",
        "Total", "", "", estimate.total
    ));
    for note in &estimate.notes {
        text.push_str(&format!("  note: {note}{}\n", how_to_change(note)));
    }
    // Each price's source once, in the order the lines use them.
    let mut sources: Vec<&str> = Vec::new();
    for line in &estimate.lines {
        if !sources.contains(&line.source.as_str()) {
            sources.push(&line.source);
        }
    }
    for source in sources {
        text.push_str(&format!("  price: {source}\n"));
    }
    out.write_all(text.as_bytes()).map_err(write_failed)
}

/// The flag that changes what `note` assumed.
fn how_to_change(note: &EstimateNote) -> &'static str {
    match note {
        EstimateNote::RegionUnknown { end: "source", .. } => " (use --source-region)",
        EstimateNote::RegionUnknown { .. } => " (use --dest-region)",
        EstimateNote::CustomEndpoint { .. } => " (use --prices FILE)",
        EstimateNote::Prices(_) => "",
    }
}

fn route_name(route: Route) -> &'static str {
    match route {
        Route::Native => "server-side copy",
        Route::FromUrl => "server-side, destination pulls from URLs",
        Route::Streamed => "streamed through this machine",
    }
}
