//! Kelisim consent widget (placeholder until the widget lands).
