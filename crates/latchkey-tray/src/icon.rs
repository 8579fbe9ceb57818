//! The tray icon: a StatusNotifierItem (the D-Bus protocol the desktop shells' trays speak; no GTK)
//! with the same summary line, menu and tooltip as the window's process shows (src-tauri/src/lib.rs).

use latchkey_core::paths::IDENTIFIER;
use tokio::sync::mpsc::UnboundedSender;

use crate::app::Event;

pub struct TrayIcon {
    /// The core's summary ("All accounts are fine", …).
    pub summary: String,
    pixmaps: Vec<ksni::Icon>,
    events: UnboundedSender<Event>,
}

impl TrayIcon {
    pub fn new(summary: String, events: UnboundedSender<Event>) -> Self {
        TrayIcon { summary, pixmaps: pixmaps(), events }
    }

    fn send(&self, event: Event) {
        let _ = self.events.send(event);
    }
}

impl ksni::Tray for TrayIcon {
    fn id(&self) -> String {
        IDENTIFIER.into()
    }

    fn title(&self) -> String {
        "Latchkey".into()
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        self.pixmaps.clone()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: "Latchkey".into(),
            description: self.summary.clone(),
            icon_name: String::new(),
            icon_pixmap: Vec::new(),
        }
    }

    /// A click on the icon (where the shell sends one rather than showing the menu).
    fn activate(&mut self, _x: i32, _y: i32) {
        self.send(Event::Open(Vec::new()));
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        use ksni::menu::StandardItem;
        vec![
            StandardItem { label: self.summary.clone(), enabled: false, ..Default::default() }.into(),
            ksni::MenuItem::Separator,
            StandardItem {
                label: "Open Latchkey".into(),
                activate: Box::new(|tray: &mut Self| tray.send(Event::Open(Vec::new()))),
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: "Quit Latchkey".into(),
                activate: Box::new(|tray: &mut Self| tray.send(Event::Quit)),
                ..Default::default()
            }
            .into(),
        ]
    }
}

/// The app's icon at the sizes the shells ask for, as ARGB32 in network byte order.
fn pixmaps() -> Vec<ksni::Icon> {
    [
        &include_bytes!("../../../icons/32x32.png")[..],
        &include_bytes!("../../../icons/64x64.png")[..],
        &include_bytes!("../../../icons/128x128.png")[..],
    ]
    .into_iter()
    .filter_map(|png| match argb(png) {
        Ok(icon) => Some(icon),
        Err(e) => {
            tracing::warn!("an icon of the app cannot be read: {e}");
            None
        }
    })
    .collect()
}

fn argb(png: &[u8]) -> Result<ksni::Icon, Box<dyn std::error::Error>> {
    let mut decoder = png::Decoder::new(png);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf)?;
    let pixels = &buf[..frame.buffer_size()];
    let data: Vec<u8> = match frame.color_type {
        png::ColorType::Rgba => pixels.chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect(),
        png::ColorType::Rgb => pixels.chunks_exact(3).flat_map(|p| [255, p[0], p[1], p[2]]).collect(),
        other => return Err(format!("unexpected colour type {other:?}").into()),
    };
    Ok(ksni::Icon { width: i32::try_from(frame.width)?, height: i32::try_from(frame.height)?, data })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_icons_decode_to_argb_at_their_sizes() {
        let icons = super::pixmaps();
        let sizes: Vec<_> = icons.iter().map(|i| (i.width, i.height)).collect();
        assert_eq!(sizes, [(32, 32), (64, 64), (128, 128)]);
        for icon in &icons {
            assert_eq!(icon.data.len(), (icon.width * icon.height * 4) as usize);
            // Not blank: some pixels are opaque, and the corners of the rounded icon are not.
            assert!(icon.data.chunks_exact(4).any(|p| p[0] == 255));
            assert!(icon.data.chunks_exact(4).any(|p| p[0] < 255));
        }
    }
}
