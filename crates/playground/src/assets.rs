//! The page, served from the binary.

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// Its script: controls, the event stream, the drawing.
pub const APP_JS: &str = include_str!("../assets/app.js");
/// Its styles.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");
