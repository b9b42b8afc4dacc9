//! Kelisim collector library (placeholder).
