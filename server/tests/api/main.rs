//! Integration tests: the real server on port 0, a fresh database per test (SQLite by
//! default, PostgreSQL with `EASEL_TEST_DB=postgres`), driven over HTTP and WebSocket.

mod a1111;
mod a1111_app;
mod a1111_engine;
mod accounts;
mod admin;
mod answers;
mod assistant;
mod chaos;
mod chat_model;
mod comfyui;
mod comfyui_app;
mod comfyui_cancel;
mod csrf;
mod fake_a1111;
mod fake_chat;
mod fake_comfyui;
mod fake_openai;
mod fault_storm;
mod gate;
mod helpers;
mod instances;
mod job_faults;
mod jobs;
mod openai;
mod pages;
mod quota_gate;
mod quotas;
mod store;
mod thread_delete;
mod ws_auth;
mod ws_sync;
