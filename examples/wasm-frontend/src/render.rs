//! Turns the backend's messages into the one-line entries the page shows.

use serde_json::Value;

fn text<'a>(message: &'a Value, field: &str) -> &'a str {
    message.get(field).and_then(Value::as_str).unwrap_or("?")
}

fn number(message: &Value, field: &str) -> String {
    message
        .get(field)
        .map_or_else(|| "?".to_owned(), |v| v.to_string())
}

/// One line describing `message` (a reply or a push of the agent-dashboard protocol).
pub fn describe(message: &Value) -> String {
    match message.get("type").and_then(Value::as_str) {
        Some("agents") => {
            let agents = message
                .get("agents")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|a| format!("{} ({})", text(a, "name"), text(a, "status")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!("agents: {agents}")
        }
        Some("run_started") => {
            let tools = message
                .get("tools")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!(
                "run {} started: {} with tools {tools}",
                number(message, "run_id"),
                text(message, "agent_id")
            )
        }
        Some("agent_progress") => format!(
            "run {}: step {} of {}",
            number(message, "run_id"),
            number(message, "step"),
            number(message, "of")
        ),
        Some("run_finished") => format!(
            "run {} finished: {}",
            number(message, "run_id"),
            text(message, "result")
        ),
        Some("chat_reply") => format!("{}: {}", text(message, "agent_id"), text(message, "text")),
        Some("error") => format!("error: {}", text(message, "message")),
        Some(other) => format!("{other}: {message}"),
        None => format!("message: {message}"),
    }
}

/// Whether `message` reports a failure.
pub fn is_error(message: &Value) -> bool {
    message.get("type").and_then(Value::as_str) == Some("error")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_protocol_message_reads_as_one_line() {
        let agents = json!({"type": "agents", "agents": [
            {"id": "coder", "name": "Coder", "status": "idle"},
            {"id": "flaky", "name": "Flaky agent", "status": "degraded"}]});
        assert_eq!(
            describe(&agents),
            "agents: Coder (idle), Flaky agent (degraded)"
        );
        let started = json!({"type": "run_started", "run_id": 4, "agent_id": "coder",
            "tools": ["compile", "test"]});
        assert_eq!(
            describe(&started),
            "run 4 started: coder with tools compile, test"
        );
        let progress = json!({"type": "agent_progress", "run_id": 4, "step": 2, "of": 3});
        assert_eq!(describe(&progress), "run 4: step 2 of 3");
        let finished = json!({"type": "run_finished", "run_id": 4, "result": "done"});
        assert_eq!(describe(&finished), "run 4 finished: done");
        let chat = json!({"type": "chat_reply", "agent_id": "coder", "text": "coder heard: hi"});
        assert_eq!(describe(&chat), "coder: coder heard: hi");
    }

    #[test]
    fn errors_are_flagged_and_show_the_backend_message() {
        let error = json!({"type": "error", "message": "database is locked"});
        assert!(is_error(&error));
        assert_eq!(describe(&error), "error: database is locked");
        assert!(!is_error(&json!({"type": "agents"})));
        assert_eq!(describe(&json!({"x": 1})), "message: {\"x\":1}");
    }
}
