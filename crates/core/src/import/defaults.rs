//! What an import takes from the store's settings when the command does not say: the
//! business's time zone for dates written without one (UTC where none is set), and the
//! default currency for files that have no currency column. Both shells ask here, so a
//! file reads the same from the command line and from the window.
//!
//! It owns the default-currency setting (set by a named person, audited); the time zone
//! setting is the period's ([`crate::period::set_business_zone`]).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use super::ImportError;
use crate::money::Currency;
use crate::store::{Store, StoreError};

/// The setting that names the currency of files without a currency column.
pub const DEFAULT_CURRENCY_SETTING: &str = "default_currency";

/// The settings an import falls back on.
#[derive(Debug, Clone)]
pub struct ImportDefaults {
    /// The business's zone name (`UTC` where none is set).
    pub zone_name: String,
    pub zone: TimeZone,
    pub currency: Option<Currency>,
}

/// Reads the import defaults from the store's settings.
pub fn defaults(store: &mut Store) -> Result<ImportDefaults, ImportError> {
    let (zone, currency) = store.read(|tx| -> Result<_, ImportError> {
        let zone = crate::period::day_zone(tx).map_err(|e| match e {
            crate::period::PeriodError::Store(s) => ImportError::Store(s),
            other => ImportError::Setting {
                detail: other.to_string(),
            },
        })?;
        Ok((zone, tx.setting(DEFAULT_CURRENCY_SETTING)?))
    })?;
    let (zone_name, zone) = zone;
    let currency = currency
        .map(|code| {
            Currency::from_code(&code).map_err(|e| ImportError::Setting {
                detail: format!("the default currency: {e}; set it in Settings again"),
            })
        })
        .transpose()?;
    Ok(ImportDefaults {
        zone_name,
        zone,
        currency,
    })
}

/// Sets the default currency (an ISO 4217 code), audited under `by`.
pub fn set_default_currency(
    store: &mut Store,
    code: &str,
    by: &str,
    at: Timestamp,
) -> Result<Currency, ImportError> {
    let currency = Currency::from_code(code.trim()).map_err(|e| ImportError::Setting {
        detail: format!("{e}; type a code such as USD, EUR or JPY"),
    })?;
    let code = currency.code();
    store.write(|tx| -> Result<(), StoreError> {
        let before = tx.setting(DEFAULT_CURRENCY_SETTING)?;
        if before.as_deref() != Some(code) {
            tx.set_setting(DEFAULT_CURRENCY_SETTING, code)?;
            tx.append_audit(
                at,
                by,
                "default_currency_set",
                "setting:default_currency",
                &json!({ "from": before, "to": code }),
            )?;
        }
        Ok(())
    })?;
    Ok(currency)
}
