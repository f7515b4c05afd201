//! Durability across restarts: state survives, and a run the server was executing when it
//! stopped is recorded truthfully as interrupted instead of staying "running" forever.

use crate::support::{pipelines, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_history_and_marks_interrupted_runs_failed() {
    let dir = pipelines(&[(
        "long.toml",
        "id = 'long'\n[[steps]]\nid = 'wait'\nrun = \"echo '::progress 30 waiting'; sleep 30\"\n[[steps]]\nid = 'next'\nneeds = ['wait']\nrun = 'true'\n",
    )]);
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let run = server.start_run("long").await;
    let mut seq_before = 0;
    for _ in 0..100 {
        let (_, state) = server.get(&format!("/api/v1/runs/{run}")).await;
        if state["steps"]["wait"]["progress"] == 30.0 {
            seq_before = state["seq"].as_u64().unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        seq_before > 0,
        "the step reported progress before the restart"
    );
    server.stop().await;

    let server = TestServer::start(data.path(), Some(dir.path().to_path_buf())).await;
    let (_, state) = server.get(&format!("/api/v1/runs/{run}")).await;
    assert_eq!(state["status"], "failed", "{state}");
    assert!(state["message"]
        .as_str()
        .unwrap()
        .starts_with("interrupted"));
    assert_eq!(state["steps"]["wait"]["status"], "failed");
    assert_eq!(
        state["steps"]["wait"]["progress"], 30.0,
        "progress from before the restart is kept"
    );
    assert_eq!(state["steps"]["next"]["status"], "cancelled");
    let (_, events) = server.get(&format!("/api/v1/runs/{run}/events")).await;
    let seqs: Vec<u64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert!(seqs.len() as u64 > seq_before);
    server.stop().await;
}
