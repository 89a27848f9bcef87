"""Files both ways (issue 22, item 7): what agents attach and visitors send.

The bytes live in a ``BlobStorage`` (a folder under ``var/`` on one node, an
S3-compatible bucket for several); what the router knows of each file (its
name, the content type sniffed from its bytes, its size) is a row of the
``files`` table (``FileStore``). A message refers to a file by its id
(``Attachment.file``), never carries its bytes: the outbox row of a reply with
a file stays small, and the connector reads the bytes when it sends."""
