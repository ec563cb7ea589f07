//! The price book: request and egress prices per provider and region, read from a dated JSON
//! file (`prices/prices.json` is built in; `--prices FILE` replaces it). Every entry names the
//! page and the date it was taken from; transfer between regions is priced by the pair.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Bytes in one billed gigabyte (the clouds bill egress per GiB, calling it GB).
pub const GB: f64 = (1u64 << 30) as f64;

const BUILTIN: &str = include_str!("../prices/prices.json");

/// Why a price file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file is not valid JSON of the expected layout.
    #[error("price file: {0}")]
    Parse(#[from] serde_json::Error),
    /// The file parses but a value makes no sense.
    #[error("price file: {0}")]
    Invalid(String),
}

/// All prices, by provider key (`aws-s3`, `azure-blob`, `s3-compatible`, `local`).
#[derive(Debug, Clone, Deserialize)]
pub struct PriceBook {
    /// The date the prices were taken from their sources.
    pub as_of: String,
    /// Currency of every price.
    pub currency: String,
    /// What the prices do and do not cover.
    pub note: String,
    /// Prices per provider.
    pub providers: BTreeMap<String, ProviderPrices>,
}

/// One provider's prices.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderPrices {
    /// Where the prices come from (pages and dates).
    pub sources: Vec<String>,
    /// Region assumed when none is known.
    pub default_region: String,
    /// Keys returned per LIST request.
    pub list_page_size: u32,
    /// Request prices per 1,000 requests (the default region's).
    pub requests_per_1000: RequestPrices,
    /// Data transfer out (the default region's).
    pub egress: EgressPrices,
    /// Data transfer to another region of the provider, by (source, destination): the first
    /// rule that matches the pair prices it.
    pub inter_region: Vec<InterRegionRule>,
    /// The continent of each region, for rules that name one (`continent:europe`).
    #[serde(default)]
    pub continents: BTreeMap<String, String>,
    /// Regions whose prices differ from the defaults.
    #[serde(default)]
    pub regions: BTreeMap<String, RegionPrices>,
}

/// Prices per 1,000 requests, by class.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestPrices {
    /// LIST.
    pub list: f64,
    /// GET and other reads.
    pub read: f64,
    /// PUT, COPY, POST, block and part uploads, commits.
    pub write: f64,
    /// Where these prices come from, and when.
    pub source: String,
}

/// Data transfer out, per GB.
#[derive(Debug, Clone, Deserialize)]
pub struct EgressPrices {
    /// To the same provider in the same region.
    pub same_region_per_gb: f64,
    /// Where that price comes from, and when.
    pub same_region_source: String,
    /// To the internet (including other clouds), tiered by volume.
    pub internet_tiers: Vec<Tier>,
    /// Where those prices come from, and when.
    pub internet_source: String,
}

/// A volume tier: this price applies up to `up_to_gb` cumulative GB (`None`: without limit).
#[derive(Debug, Clone, Deserialize)]
pub struct Tier {
    /// Cumulative upper bound of the tier, in GB.
    pub up_to_gb: Option<f64>,
    /// Price per GB within the tier.
    pub per_gb: f64,
}

/// The price of data moved from one region of a provider to another. `from` and `to` are
/// each a region (`us-east-1`), a continent (`continent:europe`, through
/// [`ProviderPrices::continents`]) or `*` (any).
#[derive(Debug, Clone, Deserialize)]
pub struct InterRegionRule {
    /// The source's region or continent, or `*`.
    pub from: String,
    /// The destination's region or continent, or `*`.
    pub to: String,
    /// Price per GB.
    pub per_gb: f64,
    /// Where the price comes from, and when.
    pub source: String,
}

/// Prices of one region, where they differ from the provider's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegionPrices {
    /// Request prices.
    pub requests_per_1000: Option<RequestPrices>,
    /// Internet tiers.
    pub internet_tiers: Option<Vec<Tier>>,
    /// Where the internet tiers come from, and when (required with them).
    pub internet_source: Option<String>,
}

impl PriceBook {
    /// The price book shipped with awcopy.
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN).expect("the built-in price book is valid")
    }

    /// Parses and checks a price book.
    pub fn from_json(text: &str) -> Result<Self, PriceError> {
        let book: PriceBook = serde_json::from_str(text)?;
        for key in ["aws-s3", "azure-blob", "s3-compatible", "local"] {
            if !book.providers.contains_key(key) {
                return Err(PriceError::Invalid(format!("provider '{key}' is missing")));
            }
        }
        for (key, provider) in &book.providers {
            let mut tier_lists = vec![&provider.egress.internet_tiers];
            tier_lists.extend(
                provider
                    .regions
                    .values()
                    .filter_map(|r| r.internet_tiers.as_ref()),
            );
            for tiers in tier_lists {
                check_tiers(key, tiers)?;
            }
            for (region, prices) in &provider.regions {
                if prices.internet_tiers.is_some() && prices.internet_source.is_none() {
                    return Err(PriceError::Invalid(format!(
                        "{key}: region {region}: internet_tiers need an internet_source"
                    )));
                }
            }
            if provider.list_page_size == 0 {
                return Err(PriceError::Invalid(format!(
                    "{key}: list_page_size must be positive"
                )));
            }
        }
        Ok(book)
    }

    /// The prices of a provider key.
    pub fn provider(&self, key: &str) -> Result<&ProviderPrices, PriceError> {
        self.providers
            .get(key)
            .ok_or_else(|| PriceError::Invalid(format!("provider '{key}' is missing")))
    }
}

fn check_tiers(provider: &str, tiers: &[Tier]) -> Result<(), PriceError> {
    let bad = |why: &str| {
        Err(PriceError::Invalid(format!(
            "{provider}: internet_tiers {why}"
        )))
    };
    if tiers.is_empty() {
        return bad("is empty");
    }
    if tiers.last().is_some_and(|t| t.up_to_gb.is_some()) {
        return bad("must end with a tier whose up_to_gb is null");
    }
    let bounds: Vec<f64> = tiers.iter().filter_map(|t| t.up_to_gb).collect();
    if bounds.len() != tiers.len() - 1 || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return bad("must have increasing up_to_gb and only the last one null");
    }
    if tiers.iter().any(|t| t.per_gb < 0.0) {
        return bad("has a negative price");
    }
    Ok(())
}

impl ProviderPrices {
    /// Request prices in `region`.
    pub fn requests(&self, region: &str) -> &RequestPrices {
        self.regions
            .get(region)
            .and_then(|r| r.requests_per_1000.as_ref())
            .unwrap_or(&self.requests_per_1000)
    }

    /// Internet egress tiers from `region`, with their source.
    pub fn internet_tiers(&self, region: &str) -> (&[Tier], &str) {
        match self.regions.get(region) {
            Some(RegionPrices {
                internet_tiers: Some(tiers),
                internet_source: Some(source),
                ..
            }) => (tiers, source),
            _ => (&self.egress.internet_tiers, &self.egress.internet_source),
        }
    }

    /// The rule that prices data moved from region `from` to region `to`.
    pub fn inter_region(&self, from: &str, to: &str) -> Result<&InterRegionRule, PriceError> {
        let matches = |pattern: &str, region: &str| {
            pattern == "*"
                || pattern == region
                || pattern.strip_prefix("continent:").is_some_and(|continent| {
                    self.continents.get(region).map(String::as_str) == Some(continent)
                })
        };
        self.inter_region
            .iter()
            .find(|rule| matches(&rule.from, from) && matches(&rule.to, to))
            .ok_or_else(|| {
                PriceError::Invalid(format!(
                    "no inter_region rule prices {from} -> {to}; end the list with one from \"*\" to \"*\""
                ))
            })
    }
}

/// The cost of `gb` through volume tiers, starting from zero volume this month.
pub fn tiered_cost(tiers: &[Tier], gb: f64) -> f64 {
    let mut cost = 0.0;
    let mut floor = 0.0;
    for tier in tiers {
        let ceiling = tier.up_to_gb.unwrap_or(f64::INFINITY);
        if gb > floor {
            cost += (gb.min(ceiling) - floor) * tier.per_gb;
        }
        floor = ceiling;
    }
    cost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_book_is_valid() {
        let book = PriceBook::builtin();
        assert_eq!(book.currency, "USD");
        assert!(book.provider("aws-s3").unwrap().sources[0].contains("aws.amazon.com"));
    }

    #[test]
    fn tiers_apply_in_order() {
        let tiers = PriceBook::builtin()
            .provider("aws-s3")
            .unwrap()
            .egress
            .internet_tiers
            .clone();
        // 20,480 GB: 100 free, 10,140 at 0.09, 10,240 at 0.085.
        assert!((tiered_cost(&tiers, 20_480.0) - (912.6 + 870.4)).abs() < 1e-9);
        // 200,000 GB: 100 free, 10,140*0.09 + 40,960*0.085 + 102,400*0.07 + 46,400*0.05.
        let expected = 912.6 + 3481.6 + 7168.0 + 2320.0;
        assert!((tiered_cost(&tiers, 200_000.0) - expected).abs() < 1e-6);
        assert_eq!(tiered_cost(&tiers, 0.0), 0.0);
    }

    /// Transfer between regions is priced by the pair: us-east-1 -> us-east-2 at 0.01, -> any
    /// other at 0.02; Tokyo to anywhere at 0.09; Azure within Europe at 0.02, Europe -> Asia at
    /// 0.05, Asia -> Europe at 0.08; a region of no known continent by the last rule.
    #[test]
    fn inter_region_prices_follow_the_pair() {
        let book = PriceBook::builtin();
        let (aws, azure) = (
            book.provider("aws-s3").unwrap(),
            book.provider("azure-blob").unwrap(),
        );
        let price = |p: &ProviderPrices, from, to| p.inter_region(from, to).unwrap().per_gb;
        assert_eq!(price(aws, "us-east-1", "us-east-2"), 0.01);
        assert_eq!(price(aws, "us-east-2", "us-east-1"), 0.01);
        assert_eq!(price(aws, "us-east-1", "eu-west-1"), 0.02);
        assert_eq!(price(aws, "ap-northeast-1", "us-east-1"), 0.09);
        assert_eq!(price(azure, "westeurope", "northeurope"), 0.02);
        assert_eq!(price(azure, "westeurope", "japaneast"), 0.05);
        assert_eq!(price(azure, "japaneast", "westeurope"), 0.08);
        assert_eq!(price(azure, "eastus", "westus2"), 0.02);
        assert_eq!(price(azure, "brazilsouth", "eastus"), 0.16);
        let tokyo = aws.requests("ap-northeast-1");
        assert!(tokyo.write < aws.requests("us-east-1").write && tokyo.source.contains("Tokyo"));
        for provider in book.providers.values() {
            assert!(provider
                .inter_region
                .last()
                .is_some_and(|r| r.from == "*" && r.to == "*"));
        }
    }

    #[test]
    fn rejects_bad_books() {
        let mut value: serde_json::Value = serde_json::from_str(BUILTIN).unwrap();
        value["providers"]["aws-s3"]["egress"]["internet_tiers"][4]["up_to_gb"] = 1.0.into();
        let err = PriceBook::from_json(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("must end with a tier"), "{err}");
        value["providers"].as_object_mut().unwrap().remove("local");
        let err = PriceBook::from_json(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("'local' is missing"), "{err}");
        assert!(PriceBook::from_json("{").is_err());
    }
}
