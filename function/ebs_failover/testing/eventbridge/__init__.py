"""The fake EventBridge data plane (:mod:`.server`): PutEvents, ACS3-signed, with its error answers."""
