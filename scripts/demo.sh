#!/usr/bin/env bash
# The main job on a fresh machine: starts the emulators (Azurite for Azure Blob, moto for S3),
# fills an S3 bucket with sample data, prices and runs a real copy S3 -> Azure with awcopy,
# then verifies it with `awcopy check`. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulators.sh

install_emulators
start_emulators
cargo build --release --locked --quiet
awcopy=target/release/awcopy
export AWS_ENDPOINT_URL=$AWCOPY_TEST_S3_ENDPOINT

"$TOOLS_PYTHON" - <<'PY'
import os, random, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="demo-source")
rng = random.Random(7)
for i in range(300):
    size = int(2 ** rng.uniform(0, 21))
    s3.put_object(Bucket="demo-source", Key=f"logs/2026/11/{i:04d}.log", Body=rng.randbytes(size),
                  ContentType="text/plain", Metadata={"source": "demo"})
s3.put_object(Bucket="demo-source", Key="exports/large.parquet", Body=rng.randbytes(48 * 1024 * 1024))
s3.put_object(Bucket="demo-source", Key="日本/データ.csv", Body=b"a,b\n1,2\n", ContentType="text/csv")
print("filled s3://demo-source with 302 objects")
PY

section() { printf '\n== %s\n' "$*"; }
section "awcopy ls s3://demo-source/"
"$awcopy" ls s3://demo-source/
section "awcopy ls --estimate s3://demo-source/ --to az://devstoreaccount1/demo-dest/"
"$awcopy" ls --estimate --source-region us-east-1 --dest-region eastus \
  s3://demo-source/ --to az://devstoreaccount1/demo-dest/
section "awcopy cp -r s3://demo-source/ az://devstoreaccount1/demo-dest/"
"$awcopy" cp -r s3://demo-source/ az://devstoreaccount1/demo-dest/
section "awcopy check s3://demo-source/ az://devstoreaccount1/demo-dest/"
"$awcopy" check s3://demo-source/ az://devstoreaccount1/demo-dest/
section "awcopy ls -r az://devstoreaccount1/demo-dest/exports/"
"$awcopy" ls -r az://devstoreaccount1/demo-dest/exports/
