// The bucket of tests/support/ceph_fixture.sh (RESUMABLE_S3_* and the AWS_* credentials it sets),
// read with curl's own SigV4 (curl --aws-sigv4), never with signing code here.
import { execFileSync } from 'node:child_process';

const MiB = 1048576;

// curl with the fixture's credentials; `output`: write the body there instead of returning it.
export function s3curl(args, output) {
  return execFileSync('curl', ['-sS', '--fail-with-body', '--aws-sigv4', `aws:amz:${process.env.RESUMABLE_S3_REGION}:s3`,
    '--user', `${process.env.AWS_ACCESS_KEY_ID}:${process.env.AWS_SECRET_ACCESS_KEY}`,
    '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', ...(output ? ['-o', output] : []), ...args],
  { maxBuffer: 64 * MiB }).toString();
}

// The object `key` of the fixture's bucket, into the file `file`.
export const getObject = (key, file) => s3curl([`${bucketUrl()}/${key}`], file);

const bucketUrl = () => `${process.env.RESUMABLE_S3_ENDPOINT}/${process.env.RESUMABLE_S3_BUCKET}`;

// Deletes the object `key`.
export const deleteObject = (key) => s3curl(['-X', 'DELETE', `${bucketUrl()}/${key}`]);

// How many elements named `name` the root of an S3 XML reply has (Python's XML parser).
const countElements = (xml, name) => Number(execFileSync('python3', ['-c',
  'import sys, xml.etree.ElementTree as E; print(sum(1 for e in E.fromstring(sys.stdin.read()) if e.tag.split("}")[-1] == sys.argv[1]))',
  name], { input: xml }).toString());
// How many multipart uploads are open under the prefix (ListMultipartUploads), and how many keys
// (one page: up to 1,000, more than any test leaves).
export const openMultipartUploads = (prefix) =>
  countElements(s3curl([`${bucketUrl()}?prefix=${encodeURIComponent(prefix)}&uploads=`]), 'Upload');
export const keysUnder = (prefix) =>
  countElements(s3curl([`${bucketUrl()}?list-type=2&prefix=${encodeURIComponent(prefix)}`]), 'Contents');
