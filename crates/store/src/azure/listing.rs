//! Listing a container: pages of blobs, key ranges, and a delimiter the SDK does not give
//! (emulated by skipping past each common prefix).

use azure_storage_blob::models::{
    BlobContainerClientListBlobsOptions, BlobItem, ListBlobsIncludeItem,
};
use futures::StreamExt;
use std::collections::BTreeMap;

use super::errors::map_error;
use super::metadata::split_metadata;
use super::AzureStore;
use crate::error::{ErrorKind, Result, StoreError};
use crate::object::*;
use crate::Store;

fn meta_from_item(item: BlobItem) -> Option<ObjectMeta> {
    let key = item.name?;
    let properties = item.properties.unwrap_or_default();
    let mut meta = ObjectMeta::new(key, properties.content_length.unwrap_or(0));
    meta.etag = properties
        .etag
        .map(|e| e.to_string().trim_matches('"').to_owned());
    meta.last_modified = properties.last_modified;
    meta.checksums.md5 = properties.content_md5.and_then(|m| m.try_into().ok());
    meta.attributes = content_headers!(properties);
    (meta.attributes.user_metadata, meta.checksums.crc64nvme) =
        split_metadata(item.metadata.and_then(|m| m.values).unwrap_or_default());
    Some(meta)
}

/// The smallest key greater than every key that starts with `prefix`, for skipping past a
/// common prefix in a listing (e.g. `a/` -> `a0`).
fn after_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl AzureStore {
    /// One listing request; returns the page, and where to continue (marker, start) if anywhere.
    pub(super) async fn list_page(
        &self,
        request: &ListRequest,
        cursor: ListCursor,
    ) -> Result<(ListPage, Option<ListCursor>)> {
        let options = BlobContainerClientListBlobsOptions {
            prefix: (!request.prefix.is_empty()).then(|| request.prefix.clone()),
            marker: cursor.marker.clone(),
            start_from: cursor.start_from.clone(),
            maxresults: request.page_size.map(|n| n.min(5000) as i32),
            include: Some(vec![ListBlobsIncludeItem::Metadata]),
            ..Default::default()
        };
        let what = format!("list {}/{}", self.display_root(), request.prefix);
        let response = self
            .container
            .list_blobs(Some(options))
            .map_err(|e| map_error(e, &what))?
            .into_pages()
            .next()
            .await
            .ok_or_else(|| {
                StoreError::new(ErrorKind::Server, format!("Azure {what}: empty response"))
            })?
            .and_then(|page| page.into_model())
            .map_err(|e| map_error(e, &what))?;

        let mut page = ListPage::default();
        let mut skip_to: Option<String> = None;
        let mut reached_end = false;
        for meta in response.blob_items.into_iter().filter_map(meta_from_item) {
            let order = self.capabilities.key_order;
            if request
                .start_after
                .as_ref()
                .is_some_and(|s| order.compare(&meta.key, s).is_le())
            {
                continue;
            }
            if request
                .end_before
                .as_ref()
                .is_some_and(|e| order.compare(&meta.key, e).is_ge())
            {
                reached_end = true;
                break;
            }
            let common = request.delimiter.as_deref().and_then(|d| {
                meta.key[request.prefix.len()..]
                    .find(d)
                    .map(|at| meta.key[..request.prefix.len() + at + d.len()].to_owned())
            });
            match common {
                // The SDK lists flat only: emulate the delimiter by reporting the common prefix
                // and restarting the listing just past it, one request per prefix.
                Some(common) => {
                    skip_to = after_prefix(&common);
                    page.prefixes.push(common);
                    break;
                }
                None => page.objects.push(meta),
            }
        }
        let next = if reached_end {
            None
        } else if let Some(start) = skip_to {
            Some(ListCursor {
                marker: None,
                start_from: Some(start),
            })
        } else {
            response
                .next_marker
                .filter(|m| !m.is_empty())
                .map(|marker| ListCursor {
                    marker: Some(marker),
                    start_from: None,
                })
        };
        Ok((page, next))
    }
}

/// Where an Azure listing continues: the service's marker, or a key to start from.
#[derive(Debug, Clone, Default)]
pub(super) struct ListCursor {
    pub(super) marker: Option<String>,
    pub(super) start_from: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_prefix_skips_the_whole_prefix() {
        assert_eq!(after_prefix("a/").as_deref(), Some("a0"));
        assert_eq!(after_prefix("日本/").as_deref(), Some("日本0"));
        assert!(after_prefix("a/").unwrap().as_str() > "a/\u{10FFFF}");
    }
}
