//! The demo's browser page: an agent dashboard written in Rust and compiled to WebAssembly. It
//! talks to the demo backend over one WebSocket with `tracewire-sdk`'s Rust API
//! ([`tracewire_sdk::TracedWebSocket`]), so every message becomes one trace from the browser
//! into the backend and back.
//!
//! The page also reproduces a bug seen in the field: with "simulate WebSocket fallback bug" on,
//! a dropped socket makes the page fall back to polling `GET /api/agents` in a tight loop. The
//! SDK's fetch instrumentation turns that flood into a per-route request rate, which the
//! collector's hot-endpoint report puts on top.
//!
//! [`config`] and [`render`] are plain Rust and tested natively; the DOM wiring is in `page`,
//! compiled for `wasm32` only.

pub mod config;
pub mod render;

#[cfg(target_arch = "wasm32")]
mod page;
