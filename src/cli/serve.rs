//! `portcullis serve`.

use crate::app::Application;
use crate::config::Config;

use super::Failure;

pub fn run(config: Config) -> Result<(), Failure> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).await?;
        println!("Portcullis is serving issuer {}", app.issuer());
        println!(
            "  discovery: {}/.well-known/openid-configuration",
            app.issuer()
        );
        println!("  data:      {}", app.data_location());
        tracing::info!(issuer = %app.issuer(), port = app.port(), "serving");
        app.run_until_stopped().await?;
        Ok(())
    })
}
