use wasmstash_sdk::prelude::*;

pub struct Hello;

impl Filter for Hello {
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, String> {
        Ok(Hello)
    }
    fn process(&mut self, event: &mut Event) -> Verdict {
        event.set("greeting", "hello");
        Verdict::Keep
    }
}
export_filter!(Hello);
