//! `tracewire-collector`: see `--help`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use tracewire_collector::access::Tenant;
use tracewire_collector::access::keys;
use tracewire_collector::config::{CliCommand, DeleteArgs, KeysCommand};
use tracewire_collector::store::clickhouse::Layout;
use tracewire_collector::store::{Scope, Store, Subject};
use tracewire_collector::{Cli, Config};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            // clap's first line names the flag and the problem; the rest is a usage hint.
            let text = e.render().to_string();
            eprintln!(
                "{}",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    let command = cli.command.clone();
    if let Some(CliCommand::Keys {
        command: KeysCommand::New(args),
    }) = &command
    {
        return match keys::new_secret(args.kind()) {
            Ok(secret) => {
                print!("{}", keys::instructions(args.kind(), &secret));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot read random bytes from the system: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(CliCommand::Delete(args)) = &command {
        return delete(&config, args);
    }
    if command == Some(CliCommand::Schema) {
        return match config.store.clickhouse() {
            Some(clickhouse) => {
                print!("{}", Layout::new(&clickhouse).script());
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "error: --store: `schema` prints the ClickHouse DDL; give --store clickhouse:<http url>"
                );
                ExitCode::from(2)
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let Some(runtime) = runtime(tokio::runtime::Builder::new_multi_thread()) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(tracewire_collector::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime `builder` makes, or `None` (said on stderr) when the system refuses it.
fn runtime(mut builder: tokio::runtime::Builder) -> Option<tokio::runtime::Runtime> {
    builder
        .enable_all()
        .build()
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}

/// `tracewire-collector delete`: deletes straight from the configured store.
fn delete(config: &Config, args: &DeleteArgs) -> ExitCode {
    let tenant = match Tenant::from_id(&args.tenant) {
        Ok(tenant) => tenant,
        Err(e) => {
            eprintln!("error: --tenant: {e}");
            return ExitCode::from(2);
        }
    };
    let subject = match (&args.user, &args.session) {
        (Some(user), _) => Subject::User(user.clone()),
        (None, Some(session)) => Subject::Session(session.clone()),
        (None, None) => {
            eprintln!("error: give --user ID or --session ID");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime(tokio::runtime::Builder::new_current_thread()) else {
        return ExitCode::FAILURE;
    };
    let scope = Scope::of_tenant(tenant.stored());
    match runtime.block_on(Store::delete_directly(&config.store, &scope, &subject)) {
        Ok(d) => {
            println!(
                "Deleted {} {} of tenant {tenant} from {}: {} spans, {} log records, {} round trips, {} session offsets",
                subject.attribute(),
                subject.id(),
                config.store.url,
                d.spans,
                d.logs,
                d.round_trips,
                d.session_offsets,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: store {}: {e}", config.store.url);
            ExitCode::FAILURE
        }
    }
}
