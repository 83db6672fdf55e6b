"""triagebot core: platform-independent types, policy, pipeline, store and CLI."""
