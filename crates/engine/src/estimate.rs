//! What a copy would cost: request charges on both sides and egress from the source, computed
//! from the listing (one object at a time) and the route the copy would take.

use awcopy_store::{Capabilities, CopySourceKind, Location, Store};
use serde::Serialize;

use crate::pricing::{tiered_cost, PriceBook, PriceError, ProviderPrices, GB};

/// The price-book provider of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PricedProvider {
    /// Amazon S3.
    AwsS3,
    /// Azure Blob Storage.
    AzureBlob,
    /// An S3-compatible service other than AWS.
    S3Compatible,
    /// Local disk.
    Local,
}

impl PricedProvider {
    /// The key of this provider in the price book.
    pub fn key(self) -> &'static str {
        match self {
            Self::AwsS3 => "aws-s3",
            Self::AzureBlob => "azure-blob",
            Self::S3Compatible => "s3-compatible",
            Self::Local => "local",
        }
    }
}

/// Where one side of a copy is, for pricing: provider and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    /// The provider.
    pub provider: PricedProvider,
    /// The region, when known.
    pub region: Option<String>,
}

impl Site {
    /// The site of a location opened with `capabilities` (which tell AWS from other S3
    /// services); `region` is the region if known, else the one the URL names.
    pub fn of(location: &Location, capabilities: &Capabilities, region: Option<String>) -> Self {
        let provider = match location {
            Location::S3 {
                region: url_region, ..
            } => {
                let aws = capabilities.service_id == awcopy_store::s3::AWS_SERVICE_ID;
                return Self {
                    provider: if aws {
                        PricedProvider::AwsS3
                    } else {
                        PricedProvider::S3Compatible
                    },
                    region: region.or_else(|| url_region.clone()),
                };
            }
            Location::Azure { .. } => PricedProvider::AzureBlob,
            Location::Local { .. } => PricedProvider::Local,
        };
        Self { provider, region }
    }
}

/// How the bytes of a copy would move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// Server-side copy within one service (S3 CopyObject / UploadPartCopy).
    Native,
    /// The destination pulls from a URL (Azure Put Block From URL).
    FromUrl,
    /// Through this machine: ranged GETs feeding uploads.
    Streamed,
}

impl Route {
    /// The largest object this route moves in one request to a destination with `caps`;
    /// larger objects go by blocks of about `block_size`, in parallel. A copy within one
    /// service goes whole up to `cutoffs.copy` (at most the service's limit, S3 CopyObject's
    /// 5 GiB): one request, and the service copies at its own speed. A destination that
    /// writes streams (local disk) takes one GET up to `cutoffs.get`, written as it arrives;
    /// otherwise a streamed object is held in memory, so only up to a block goes whole.
    pub fn single_request_limit(
        self,
        caps: &Capabilities,
        block_size: u64,
        cutoffs: Cutoffs,
    ) -> u64 {
        match self {
            Self::Native => cutoffs.copy.min(caps.max_single_copy),
            Self::FromUrl => block_size.min(caps.max_single_copy),
            Self::Streamed if caps.put_stream_memory.is_some() => cutoffs.get,
            Self::Streamed => block_size.min(caps.max_single_put),
        }
    }

    /// What the destination copies from on this route: `None` when the bytes stream through
    /// this machine.
    pub fn copy_source_kind(self) -> Option<CopySourceKind> {
        match self {
            Self::Native => Some(CopySourceKind::Native),
            Self::FromUrl => Some(CopySourceKind::Url),
            Self::Streamed => None,
        }
    }

    /// The route a copy between stores with these capabilities takes.
    pub fn between(source: &Capabilities, dest: &Capabilities) -> Self {
        match dest.server_side_route(source) {
            Some(CopySourceKind::Native) => Self::Native,
            Some(CopySourceKind::Url) => Self::FromUrl,
            None => Self::Streamed,
        }
    }
}

/// The destination side of an estimate.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Where it is.
    pub site: Site,
    /// How bytes get there.
    pub route: Route,
    /// Its part limits, which decide part sizes.
    pub capabilities: Capabilities,
}

/// Accumulates request counts and bytes as objects are listed.
#[derive(Debug, Clone)]
pub struct CostEstimator {
    source: Site,
    destination: Option<Destination>,
    block_size: u64,
    cutoffs: Cutoffs,
    objects: u64,
    bytes: u64,
    source_reads: u64,
    dest_writes: u64,
}

/// One line of an estimate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CostLine {
    /// What is charged, e.g. "aws-s3 us-east-1: GET requests".
    pub item: String,
    /// How many units.
    pub quantity: f64,
    /// The unit: "requests" or "GB".
    #[schema(value_type = String)]
    pub unit: &'static str,
    /// The cost of these units.
    pub cost: f64,
    /// Where the price comes from, and when (the price book's entry).
    pub source: String,
}

/// The estimated cost of a copy.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Estimate {
    /// Currency of all amounts.
    pub currency: String,
    /// Date of the prices.
    pub prices_as_of: String,
    /// Objects counted.
    pub objects: u64,
    /// Bytes counted.
    pub bytes: u64,
    /// The route priced.
    pub route: Option<Route>,
    /// The charges.
    pub lines: Vec<CostLine>,
    /// Sum of the lines.
    pub total: f64,
    /// Assumptions the reader should know, as sentences.
    #[schema(value_type = Vec<String>)]
    pub notes: Vec<EstimateNote>,
}

/// An assumption behind an estimate; a front door may add how to change it in its own words.
#[derive(Debug, Clone, PartialEq)]
pub enum EstimateNote {
    /// Where the prices come from.
    Prices(String),
    /// The region of one end is not known, and was priced as `priced_as`.
    RegionUnknown {
        /// Which end: "source" or "destination".
        end: &'static str,
        /// The region whose prices were used.
        priced_as: String,
    },
    /// An S3-compatible store away from AWS: its prices are unknown and count as zero.
    CustomEndpoint {
        /// The provider's key, e.g. "s3-compatible".
        provider: &'static str,
    },
}

impl std::fmt::Display for EstimateNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Prices(note) => f.write_str(note),
            Self::RegionUnknown { end, priced_as } => {
                write!(f, "{end} region unknown; priced as {priced_as}")
            }
            Self::CustomEndpoint { provider } => write!(
                f,
                "{provider}: prices unknown for custom endpoints; counted as zero"
            ),
        }
    }
}

/// As its text: `--json` shows notes as sentences.
impl Serialize for EstimateNote {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Up to which size an object moves whole, in one request, rather than by blocks in
/// parallel (see [`Route::single_request_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Copies within one service (S3 CopyObject). Default 5 GiB, CopyObject's limit.
    pub copy: u64,
    /// Reads into a destination that writes streams (local disk). Default 256 MiB, where
    /// rclone too switches to parallel ranged reads: below it one GET is as fast and costs
    /// fewer requests (and some S3-compatible servers read the whole object for each range).
    pub get: u64,
}

impl Default for Cutoffs {
    fn default() -> Self {
        Self {
            copy: 5 << 30,
            get: 256 << 20,
        }
    }
}

impl CostEstimator {
    /// An estimator for copying from `source` to `destination` (or only downloading, when
    /// there is none) in blocks of `block_size`.
    pub fn new(source: Site, destination: Option<Destination>, block_size: u64) -> Self {
        Self {
            source,
            destination,
            block_size: block_size.max(1),
            cutoffs: Cutoffs::default(),
            objects: 0,
            bytes: 0,
            source_reads: 0,
            dest_writes: 0,
        }
    }

    /// An estimator for copying from `source` to `dest` (or only downloading, with no
    /// `dest`), each a location with its opened store, objects cut as `sizes` says; `regions`
    /// are the source's and the destination's when known.
    pub fn for_stores(
        source: (&Location, &dyn Store),
        dest: Option<(&Location, &dyn Store)>,
        regions: (Option<String>, Option<String>),
        sizes: &crate::spec::Sizes,
    ) -> Self {
        let (source_location, source_store) = source;
        let site = Site::of(source_location, source_store.capabilities(), regions.0);
        let destination = dest.map(|(location, store)| Destination {
            site: Site::of(location, store.capabilities(), regions.1),
            route: Route::between(source_store.capabilities(), store.capabilities()),
            capabilities: store.capabilities().clone(),
        });
        Self::new(site, destination, sizes.block_size).with_cutoffs(sizes.cutoffs())
    }

    /// Prices objects above `cutoffs` as blocks (see [`Route::single_request_limit`]).
    pub fn with_cutoffs(mut self, cutoffs: Cutoffs) -> Self {
        self.cutoffs = cutoffs;
        self
    }

    /// Counts the requests copying one object of `size` bytes takes.
    pub fn add(&mut self, size: u64) {
        self.objects += 1;
        self.bytes += size;
        let Some(dest) = &self.destination else {
            self.source_reads += u64::from(size > 0) * size.div_ceil(self.block_size).max(1);
            return;
        };
        let caps = &dest.capabilities;
        let parts = |size: u64| size.div_ceil(caps.part_size_for(size, self.block_size));
        // Requests around the parts: S3 creates and completes, Azure commits a block list.
        let commit_requests = match dest.site.provider {
            PricedProvider::AzureBlob => 1,
            _ => 2,
        };
        let single = size
            <= dest
                .route
                .single_request_limit(caps, self.block_size, self.cutoffs);
        let (reads, writes) = match (dest.route, single) {
            (Route::Native, true) => (0, 1),
            (Route::Native, false) => (0, parts(size) + commit_requests),
            (_, true) => (u64::from(size > 0), 1),
            (_, false) => (parts(size), parts(size) + commit_requests),
        };
        self.source_reads += reads;
        self.dest_writes += writes;
    }

    /// Prices the counts with `book`.
    pub fn finish(&self, book: &PriceBook) -> Result<Estimate, PriceError> {
        let source_prices = book.provider(self.source.provider.key())?;
        let source_region = region_or_default(&self.source, source_prices);
        let mut notes = vec![EstimateNote::Prices(book.note.clone())];
        if self.source.region.is_none() && self.source.provider != PricedProvider::Local {
            notes.push(EstimateNote::RegionUnknown {
                end: "source",
                priced_as: source_region.clone(),
            });
        }
        let source_label = format!("{} {source_region}", self.source.provider.key());
        let per_request = |price_per_1000: f64, count: u64| price_per_1000 * count as f64 / 1000.0;

        let list_requests = self
            .objects
            .div_ceil(u64::from(source_prices.list_page_size))
            .max(1);
        let source_requests = source_prices.requests(&source_region);
        let mut lines = vec![
            CostLine {
                item: format!("{source_label}: LIST requests"),
                quantity: list_requests as f64,
                unit: "requests",
                cost: per_request(source_requests.list, list_requests),
                source: source_requests.source.clone(),
            },
            CostLine {
                item: format!("{source_label}: GET requests"),
                quantity: self.source_reads as f64,
                unit: "requests",
                cost: per_request(source_requests.read, self.source_reads),
                source: source_requests.source.clone(),
            },
        ];
        if let Some(dest) = &self.destination {
            let dest_prices = book.provider(dest.site.provider.key())?;
            let dest_region = region_or_default(&dest.site, dest_prices);
            if dest.site.region.is_none() && dest.site.provider != PricedProvider::Local {
                notes.push(EstimateNote::RegionUnknown {
                    end: "destination",
                    priced_as: dest_region.clone(),
                });
            }
            let verb = if dest.route == Route::Native {
                "COPY"
            } else {
                "PUT"
            };
            let dest_requests = dest_prices.requests(&dest_region);
            lines.push(CostLine {
                item: format!(
                    "{} {dest_region}: {verb} and commit requests",
                    dest.site.provider.key()
                ),
                quantity: self.dest_writes as f64,
                unit: "requests",
                cost: per_request(dest_requests.write, self.dest_writes),
                source: dest_requests.source.clone(),
            });
        }
        for provider in [
            Some(self.source.provider),
            self.destination.as_ref().map(|d| d.site.provider),
        ]
        .into_iter()
        .flatten()
        .filter(|p| *p == PricedProvider::S3Compatible)
        {
            notes.push(EstimateNote::CustomEndpoint {
                provider: provider.key(),
            });
        }

        let gb = self.bytes as f64 / GB;
        let egress = match self.egress_kind(&source_region, book)? {
            Egress::None => None,
            Egress::SameRegion => Some((
                "egress within the region".to_owned(),
                gb * source_prices.egress.same_region_per_gb,
                source_prices.egress.same_region_source.clone(),
            )),
            Egress::InterRegion(dest_region) => {
                let rule = source_prices.inter_region(&source_region, &dest_region)?;
                Some((
                    format!("egress to another region ({dest_region})"),
                    gb * rule.per_gb,
                    rule.source.clone(),
                ))
            }
            Egress::Internet => {
                let (tiers, source) = source_prices.internet_tiers(&source_region);
                Some((
                    "egress to the internet".to_owned(),
                    tiered_cost(tiers, gb),
                    source.to_owned(),
                ))
            }
        };
        if let Some((item, cost, source)) = egress {
            lines.push(CostLine {
                item: format!("{source_label}: {item}"),
                quantity: gb,
                unit: "GB",
                cost,
                source,
            });
        }
        Ok(Estimate {
            currency: book.currency.clone(),
            prices_as_of: book.as_of.clone(),
            objects: self.objects,
            bytes: self.bytes,
            route: self.destination.as_ref().map(|d| d.route),
            total: lines.iter().map(|l| l.cost).sum(),
            lines,
            notes,
        })
    }

    fn egress_kind(&self, source_region: &str, book: &PriceBook) -> Result<Egress, PriceError> {
        if self.source.provider == PricedProvider::Local {
            return Ok(Egress::None);
        }
        let Some(dest) = &self.destination else {
            return Ok(Egress::Internet);
        };
        let same_provider = dest.site.provider == self.source.provider;
        if !same_provider || dest.route == Route::Streamed {
            return Ok(Egress::Internet);
        }
        let dest_region = region_or_default(&dest.site, book.provider(dest.site.provider.key())?);
        Ok(if dest_region == source_region {
            Egress::SameRegion
        } else {
            Egress::InterRegion(dest_region)
        })
    }
}

/// Where a copy's bytes leave the source's region for.
enum Egress {
    /// Nowhere (a local source).
    None,
    /// The same provider's same region.
    SameRegion,
    /// The same provider's other region, this one.
    InterRegion(String),
    /// The internet (another provider, or through this machine).
    Internet,
}

fn region_or_default(site: &Site, prices: &ProviderPrices) -> String {
    site.region
        .clone()
        .unwrap_or_else(|| prices.default_region.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn caps(max_parts: u32, min_part: u64, max_single_copy: u64) -> Capabilities {
        Capabilities {
            service_id: "x".into(),
            native_copy: false,
            copy_from_url: false,
            presign: false,
            max_parts,
            min_part_size: min_part,
            max_part_size: 5 * GIB,
            max_single_put: 5 * GIB,
            max_single_copy,
            put_stream_memory: None,
            key_order: awcopy_store::KeyOrder::Utf8,
            ranged_listing: true,
        }
    }

    /// From S3 us-east-1 to a local directory (which writes streams).
    fn s3_to_local(block_size: u64) -> CostEstimator {
        let dest = Destination {
            site: Site {
                provider: PricedProvider::Local,
                region: None,
            },
            route: Route::Streamed,
            capabilities: Capabilities {
                put_stream_memory: Some(2 * MIB),
                ..caps(10_000, 1, u64::MAX)
            },
        };
        CostEstimator::new(
            site(PricedProvider::AwsS3, "us-east-1"),
            Some(dest),
            block_size,
        )
    }

    fn site(provider: PricedProvider, region: &str) -> Site {
        Site {
            provider,
            region: Some(region.into()),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn line<'a>(estimate: &'a Estimate, needle: &str) -> &'a CostLine {
        estimate
            .lines
            .iter()
            .find(|l| l.item.contains(needle))
            .unwrap_or_else(|| panic!("no line {needle}: {estimate:#?}"))
    }

    /// A million 10 KiB objects from S3 us-east-1 to Azure eastus, pulled by Azure from URLs:
    /// LIST 1,000 x 0.005/1000 = 0.005; GET 1,000,000 x 0.0004/1000 = 0.40;
    /// Azure writes 1,000,000 x 0.005/1000 = 5.00; egress 10,000,000 KiB = 9.5367431640625 GB,
    /// within the month's free 100 GB; total 5.405.
    #[test]
    fn many_small_objects_s3_to_azure() {
        let dest = Destination {
            site: site(PricedProvider::AzureBlob, "eastus"),
            route: Route::FromUrl,
            capabilities: caps(50_000, 1, 5000 * MIB),
        };
        let mut estimator = CostEstimator::new(
            site(PricedProvider::AwsS3, "us-east-1"),
            Some(dest),
            4 * MIB,
        );
        for _ in 0..1_000_000 {
            estimator.add(10 * KIB);
        }
        let e = estimator.finish(&PriceBook::builtin()).unwrap();
        assert!(close(line(&e, "LIST").cost, 0.005));
        assert!(close(line(&e, "GET").cost, 0.40));
        assert!(close(line(&e, "PUT").cost, 5.00));
        assert!(close(
            line(&e, "egress to the internet").quantity,
            9.5367431640625
        ));
        assert!(close(line(&e, "egress").cost, 0.0));
        assert!(line(&e, "egress")
            .source
            .contains("first 100 GB a month free"));
        assert!(close(e.total, 5.405));
        assert!(e.lines.iter().all(|l| l.source.contains("2026")), "{e:#?}");
    }

    /// Two 10 TiB objects downloaded from S3 us-east-1 to local disk in 8 MiB blocks, grown to
    /// fit 10,000 parts: 1,099,511,628-byte parts, 10,000 GETs each. Egress 20,480 GB: 100
    /// free, 10,140 x 0.09 + 10,240 x 0.085 = 1,783.00; GETs 20,000 x 0.0004/1000 = 0.008.
    #[test]
    fn huge_objects_cross_egress_tiers() {
        let mut estimator = s3_to_local(8 * MIB);
        estimator.add(10 << 40);
        estimator.add(10 << 40);
        let e = estimator.finish(&PriceBook::builtin()).unwrap();
        assert_eq!(line(&e, "GET").quantity, 20_000.0);
        assert!(close(line(&e, "GET").cost, 0.008));
        assert!(close(line(&e, "egress to the internet").cost, 1783.0));
        assert!(close(line(&e, "PUT").cost, 0.0));
        assert!(close(e.total, 1783.0 + 0.008 + 0.000005));
    }

    /// To local disk, objects up to the get cutoff take one GET, larger ones one per block:
    /// 0 B (none), 256 MiB (1), 256 MiB + 1 (33 of 8 MiB); with a 1 MiB cutoff, 20 MiB takes 3.
    #[test]
    fn local_destinations_read_whole_up_to_the_get_cutoff() {
        let gets = |cutoffs: Cutoffs, sizes: &[u64]| {
            let mut estimator = s3_to_local(8 * MIB).with_cutoffs(cutoffs);
            for size in sizes {
                estimator.add(*size);
            }
            let e = estimator.finish(&PriceBook::builtin()).unwrap();
            line(&e, "GET").quantity
        };
        assert_eq!(
            gets(Cutoffs::default(), &[0, 256 * MIB, 256 * MIB + 1]),
            34.0
        );
        let small = Cutoffs {
            get: MIB,
            ..Cutoffs::default()
        };
        assert_eq!(gets(small, &[20 * MIB]), 3.0);
    }

    /// S3 us-east-1 to S3 eu-west-1 server-side: 1 GiB (one CopyObject), 6 GiB (above 5 GiB:
    /// 768 UploadPartCopy of 8 MiB + create + complete = 770), 0 B (one COPY): 772 writes x
    /// 0.005/1000 = 0.00386; no GETs; inter-region 7 GB x 0.02 = 0.14.
    #[test]
    fn server_side_copy_across_regions() {
        let dest = Destination {
            site: site(PricedProvider::AwsS3, "eu-west-1"),
            route: Route::Native,
            capabilities: caps(10_000, 5 * MIB, 5 * GIB),
        };
        let mut estimator = CostEstimator::new(
            site(PricedProvider::AwsS3, "us-east-1"),
            Some(dest),
            8 * MIB,
        );
        for size in [GIB, 6 * GIB, 0] {
            estimator.add(size);
        }
        let e = estimator.finish(&PriceBook::builtin()).unwrap();
        assert_eq!(line(&e, "COPY").quantity, 772.0);
        assert!(close(line(&e, "COPY").cost, 0.00386));
        assert_eq!(line(&e, "GET").quantity, 0.0);
        assert!(close(line(&e, "egress to another region").cost, 0.14));
        assert!(close(e.total, 0.00386 + 0.14 + 0.000005));
    }

    /// Same region, server-side: no egress charge; a listing only (no destination) from
    /// sa-east-1 uses that region's prices: 200 GB out, 100 free then 100 x 0.15 = 15.00, and
    /// 25,600 GETs of 8 MiB x 0.00056/1000.
    #[test]
    fn same_region_is_free_and_regions_override() {
        let dest = Destination {
            site: site(PricedProvider::AwsS3, "us-east-1"),
            route: Route::Native,
            capabilities: caps(10_000, 5 * MIB, 5 * GIB),
        };
        let mut same = CostEstimator::new(
            site(PricedProvider::AwsS3, "us-east-1"),
            Some(dest),
            8 * MIB,
        );
        same.add(GIB);
        assert!(close(
            line(
                &same.finish(&PriceBook::builtin()).unwrap(),
                "egress within"
            )
            .cost,
            0.0
        ));

        let mut download =
            CostEstimator::new(site(PricedProvider::AwsS3, "sa-east-1"), None, 8 * MIB);
        download.add(200 * GIB);
        let e = download.finish(&PriceBook::builtin()).unwrap();
        assert!(close(line(&e, "egress to the internet").cost, 15.0));
        assert_eq!(line(&e, "GET").quantity, 25_600.0);
        assert!(close(line(&e, "GET").cost, 25_600.0 * 0.00056 / 1000.0));
        assert!(line(&e, "GET").source.contains("Sao Paulo"));
    }

    #[test]
    fn unknown_prices_and_regions_are_noted() {
        let mut estimator = CostEstimator::new(
            Site {
                provider: PricedProvider::S3Compatible,
                region: None,
            },
            None,
            MIB,
        );
        estimator.add(5);
        let e = estimator.finish(&PriceBook::builtin()).unwrap();
        assert_eq!(e.total, 0.0);
        assert!(
            e.notes
                .iter()
                .any(|n| n.to_string().contains("prices unknown")),
            "{:?}",
            e.notes
        );
        assert!(
            e.notes
                .iter()
                .any(|n| matches!(n, EstimateNote::RegionUnknown { end: "source", .. })),
            "{:?}",
            e.notes
        );
    }

    #[test]
    fn site_of_location() {
        let aws = Capabilities {
            service_id: awcopy_store::s3::AWS_SERVICE_ID.into(),
            ..caps(1, 1, 1)
        };
        let minio = Capabilities {
            service_id: "s3:http://127.0.0.1:9000".into(),
            ..caps(1, 1, 1)
        };
        let s3 = Location::parse("s3://bkt/p").unwrap();
        assert_eq!(Site::of(&s3, &aws, None).provider, PricedProvider::AwsS3);
        assert_eq!(
            Site::of(&s3, &minio, None).provider,
            PricedProvider::S3Compatible
        );
        let url = Location::parse("https://bkt.s3.eu-west-2.amazonaws.com/x").unwrap();
        assert_eq!(
            Site::of(&url, &aws, None),
            site(PricedProvider::AwsS3, "eu-west-2")
        );
        assert_eq!(
            Site::of(&url, &aws, Some("us-west-1".into())),
            site(PricedProvider::AwsS3, "us-west-1")
        );
        let az = Location::parse("az://acct/cont").unwrap();
        assert_eq!(
            Site::of(&az, &minio, None).provider,
            PricedProvider::AzureBlob
        );
    }
}
