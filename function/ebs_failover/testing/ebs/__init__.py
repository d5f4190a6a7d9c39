"""The fake EBS: state (:mod:`.models`), its errors (:mod:`.exceptions`), the RPC protocol
(:mod:`.responses`), the service that ties them (:mod:`.service`), mounted in process through
``responses`` (:mod:`.mock`) or on a loopback socket (:mod:`.server`). Empty on import: the public
names are :mod:`ebs_failover.testing`'s."""
