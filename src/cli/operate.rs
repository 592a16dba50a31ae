//! `foresight mode` and `foresight advise`: an operator's hands on a
//! running controller, through its HTTP API (beside `/metrics`), with a
//! bearer token (`--token` or `FORESIGHT_OPERATOR_TOKEN`).

use super::BadInput;
use clap::{Args, Subcommand};
use std::net::SocketAddr;

/// Where the controller is and who asks.
#[derive(Debug, Clone, Args)]
pub struct Operator {
    /// The controller's HTTP address (its `--metrics`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464", global = true)]
    controller: SocketAddr,
    /// The operator's (or a watcher's) token (else `FORESIGHT_OPERATOR_TOKEN`).
    #[arg(long, value_name = "TOKEN", global = true)]
    token: Option<String>,
}

/// Show the controller's mode, or switch it (operator token).
#[derive(Debug, Args)]
pub struct ModeArgs {
    /// The mode to switch to: `shadow`, `advise` or `enforce`; without it,
    /// the mode is shown.
    mode: Option<String>,
    #[command(flatten)]
    op: Operator,
}

/// List advise mode's proposals, or approve or override one.
#[derive(Debug, Args)]
pub struct AdviseArgs {
    #[command(subcommand)]
    what: AdviseCommand,
    #[command(flatten)]
    op: Operator,
}

/// What to do with the proposals.
#[derive(Debug, Subcommand)]
enum AdviseCommand {
    /// The proposals waiting for a verdict.
    List,
    /// Carry out the proposal for a job.
    Approve {
        /// The job's id.
        job: String,
    },
    /// Reject the proposal for a job: Slurm's own order stands for it.
    Override {
        /// The job's id.
        job: String,
    },
}

impl Operator {
    fn call(&self, method: &str, path: &str, body: &str) -> anyhow::Result<String> {
        let token = self.token.clone().or_else(|| std::env::var("FORESIGHT_OPERATOR_TOKEN").ok());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (code, text) = rt
            .block_on(foresight_controller::obs::http::request(self.controller, method, path, token.as_deref(), body))
            .map_err(|e| anyhow::anyhow!("reach the controller at {}: {e}", self.controller))?;
        match code {
            200 => Ok(text),
            400..=499 => Err(BadInput(format!("the controller refused ({code}): {text}")).into()),
            _ => Err(anyhow::anyhow!("the controller answered {code}: {text}")),
        }
    }
}

/// Runs `mode`.
pub fn run_mode(args: ModeArgs) -> anyhow::Result<()> {
    let text = match &args.mode {
        None => args.op.call("GET", "/v1/mode", "")?,
        Some(m) => {
            m.parse::<foresight_controller::enforce::Mode>().map_err(|e| BadInput(e.to_string()))?;
            args.op.call("POST", "/v1/mode", m)?
        }
    };
    println!("{text}");
    Ok(())
}

/// Runs `advise`.
pub fn run_advise(args: AdviseArgs) -> anyhow::Result<()> {
    let text = match &args.what {
        AdviseCommand::List => {
            let text = args.op.call("GET", "/v1/advise", "")?;
            let doc: serde_json::Value = serde_json::from_str(&text)?;
            let list = doc["proposals"].as_array().cloned().unwrap_or_default();
            let mut out = format!("mode {}; {} proposals\n", doc["mode"].as_str().unwrap_or("?"), list.len());
            for p in list {
                out += &format!(
                    "{:>3}  start job {} now (proposed at {}, submitted at {})\n",
                    p["rank"],
                    p["job_id"].as_str().unwrap_or("?"),
                    p["since_unix_s"],
                    p["submit_unix_s"]
                );
            }
            out.trim_end().to_string()
        }
        AdviseCommand::Approve { job } => args.op.call("POST", &format!("/v1/advise/approve/{job}"), "")?,
        AdviseCommand::Override { job } => args.op.call("POST", &format!("/v1/advise/override/{job}"), "")?,
    };
    println!("{text}");
    Ok(())
}
