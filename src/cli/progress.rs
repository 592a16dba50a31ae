//! Progress bars and spinners: drawn on a terminal only, silent in pipes
//! and tests.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A spinner with a message, ticking on its own until finished.
pub fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
