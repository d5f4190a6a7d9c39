"""The fake OSS (:mod:`.server`): PutObject, GetObject, HeadObject, ListObjectsV2 and DeleteObject over
REST/XML, signed OSS4-HMAC-SHA256, for ``alibabacloud-oss-v2``."""
