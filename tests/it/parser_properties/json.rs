//! A JSON document with ordered keys, and a writer that varies the bytes.

#[derive(Clone, Debug)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

pub fn obj<const N: usize>(entries: [(&str, J); N]) -> J {
    J::Obj(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// How a document is written: `seed` drives every choice; `ws` and `escapes`
/// are per-mille chances of whitespace between tokens and of escaping a
/// character that need not be.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub seed: u64,
    pub ws: u64,
    pub escapes: u64,
}

pub struct Writer {
    pub rng: u64,
    pub style: Style,
    pub out: Vec<u8>,
}

impl Writer {
    pub fn rand(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.rand() % 1000 < per_mille
    }

    pub fn coin(&mut self) -> bool {
        self.rand() & 1 == 0
    }

    pub fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    pub fn ws(&mut self) {
        const WS: [&str; 5] = [" ", "\n", "\t", "\r\n", " \n\t  "];
        if self.chance(self.style.ws) {
            let w = WS[(self.rand() % WS.len() as u64) as usize];
            self.raw(w);
        }
    }

    pub fn value(&mut self, j: &J) {
        match j {
            J::Null => self.raw("null"),
            J::Bool(b) => self.raw(if *b { "true" } else { "false" }),
            J::Int(n) => self.raw(&n.to_string()),
            J::Float(f) => self.raw(&serde_json::to_string(f).expect("a finite float")),
            J::Str(s) => self.string(s),
            J::Arr(items) => {
                self.out.push(b'[');
                self.ws();
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        self.ws();
                        self.out.push(b',');
                        self.ws();
                    }
                    self.value(item);
                }
                self.ws();
                self.out.push(b']');
            }
            J::Obj(entries) => {
                // Keys in any order: the first pointer must win whatever the order.
                let mut order: Vec<usize> = (0..entries.len()).collect();
                for k in (1..order.len()).rev() {
                    let r = (self.rand() % (k as u64 + 1)) as usize;
                    order.swap(k, r);
                }
                self.out.push(b'{');
                self.ws();
                for (n, &k) in order.iter().enumerate() {
                    if n > 0 {
                        self.ws();
                        self.out.push(b',');
                        self.ws();
                    }
                    let (key, value) = &entries[k];
                    self.string(key);
                    self.ws();
                    self.out.push(b':');
                    self.ws();
                    self.value(value);
                }
                self.ws();
                self.out.push(b'}');
            }
        }
    }

    pub fn string(&mut self, s: &str) {
        self.out.push(b'"');
        for c in s.chars() {
            let escape = self.chance(self.style.escapes);
            match c {
                '"' if !escape => self.raw("\\\""),
                '\\' if !escape => self.raw("\\\\"),
                '\n' if !escape => self.raw("\\n"),
                '\r' if !escape => self.raw("\\r"),
                '\t' if !escape => self.raw("\\t"),
                '\u{8}' if !escape => self.raw("\\b"),
                '\u{c}' if !escape => self.raw("\\f"),
                '/' if escape && self.coin() => self.raw("\\/"),
                c if escape || (c as u32) < 0x20 || c == '"' || c == '\\' => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units).iter() {
                        let text = if self.coin() {
                            format!("\\u{u:04X}")
                        } else {
                            format!("\\u{u:04x}")
                        };
                        self.raw(&text);
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    self.raw(c.encode_utf8(&mut buf));
                }
            }
        }
        self.out.push(b'"');
    }
}

pub fn serialize(doc: &J, style: Style) -> Vec<u8> {
    let mut w = Writer {
        rng: style.seed,
        style,
        out: Vec::new(),
    };
    w.ws();
    w.value(doc);
    w.ws();
    w.out
}
