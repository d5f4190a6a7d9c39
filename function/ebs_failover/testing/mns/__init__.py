"""The fake MNS topic endpoint (:mod:`.server`): PublishMessage over REST/XML, its signature checked."""
