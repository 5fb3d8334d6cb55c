//! Authentication context classes (OpenID Connect Core §2 `acr`). The values are ours
//! (no registry exists); discovery lists them. Methods (`amr`) are RFC 8176 names.

/// A password sign-in: one factor.
pub const PWD: &str = "urn:portcullis:acr:pwd";

/// Every class this server can reach, for discovery's `acr_values_supported`.
pub const SUPPORTED: [&str; 1] = [PWD];
