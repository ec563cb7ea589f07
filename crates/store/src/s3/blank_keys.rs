//! Keys made only of white space (`" "`, `"\u{3000}"`, ...), which S3 holds like any other key.
//!
//! The SDK builds each keyed operation's endpoint parameters from the key with `str::trim`
//! and calls a blank one missing, so it refuses to send the request. Hand-written because no
//! setting turns that check off: such a request is given a non-blank stand-in key, which the
//! endpoint check sees, and an interceptor puts the real key back into the input before it is
//! serialised (and signed), so the request on the wire names the real key.

use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::operation;

/// The key the SDK sees in place of a blank one; never sent.
pub(super) const STAND_IN: &str = "awcopy-blank-key";

/// Whether the SDK would refuse `key` as missing: not empty, but only white space.
pub(super) fn is_blank(key: &str) -> bool {
    !key.is_empty() && key.trim().is_empty()
}

/// Puts the real key back into an operation's input before it is serialised.
#[derive(Debug)]
pub(super) struct RestoreKey(pub(super) String);

/// Sets `key` on whichever of the keyed inputs `input` is; `false` if none.
macro_rules! set_key_of {
    ($input:expr, $key:expr, $($op:ident :: $ty:ident),+ $(,)?) => {{
        let input = $input;
        $(
            if let Some(input) = input.downcast_mut::<operation::$op::$ty>() {
                input.key = Some($key);
                true
            } else
        )+
        { false }
    }};
}

impl Intercept for RestoreKey {
    fn name(&self) -> &'static str {
        "awcopy::RestoreBlankKey"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        // Every operation the S3 store sends with a key that the SDK checks.
        let set = set_key_of!(
            context.input_mut(),
            self.0.clone(),
            abort_multipart_upload::AbortMultipartUploadInput,
            complete_multipart_upload::CompleteMultipartUploadInput,
            copy_object::CopyObjectInput,
            create_multipart_upload::CreateMultipartUploadInput,
            delete_object::DeleteObjectInput,
            get_object::GetObjectInput,
            head_object::HeadObjectInput,
            list_parts::ListPartsInput,
            put_object::PutObjectInput,
            upload_part::UploadPartInput,
        );
        if set {
            Ok(())
        } else {
            Err("awcopy: a blank key was given to an operation that cannot restore it".into())
        }
    }
}

/// Sends a fluent request builder for `key`, a blank key included: `send_keyed!(builder, key)`
/// in place of `builder.key(key).send().await`.
macro_rules! send_keyed {
    ($builder:expr, $key:expr) => {{
        let key: &str = $key;
        if blank_keys::is_blank(key) {
            $builder
                .key(blank_keys::STAND_IN)
                .customize()
                .interceptor(blank_keys::RestoreKey(key.to_owned()))
                .send()
                .await
        } else {
            $builder.key(key).send().await
        }
    }};
}
pub(super) use send_keyed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_what_the_sdk_trims_away() {
        for key in [
            " ",
            "  ",
            "\t",
            "\u{3000}",
            "\u{1680}",
            "\u{85}",
            "\u{2028} ",
        ] {
            assert!(is_blank(key), "{key:?}");
        }
        for key in ["", "a", " a ", "\u{200b}", "\u{feff}", "/", " /"] {
            assert!(!is_blank(key), "{key:?}");
        }
    }
}
