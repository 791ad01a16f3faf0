//! Which console drives the menu when it is shown on several at once (serial and VGA, as
//! GRUB and petitboot do). Pure: the terminal side reports on which console a key came in
//! and draws what this says.
//!
//! Until a key is pressed, every console is equal (the countdown shows on all). The first
//! console with a key takes over; the others then show who has the menu, and a key on one
//! of them takes it back (that key only takes over, it does not act on the menu).

/// What to do with a key that came in on a console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The key is for the menu (this console drives it).
    Menu,
    /// The key only moved the menu to this console: redraw every console, drop the key.
    TookOver,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    /// Short console names ("ttyS0", "tty0"), in the terminal side's order.
    names: Vec<String>,
    owner: Option<usize>,
}

impl Takeover {
    pub fn new(names: Vec<String>) -> Takeover {
        Takeover { names, owner: None }
    }

    /// The console whose keys drive the menu; None until the first key anywhere.
    pub fn owner(&self) -> Option<usize> {
        self.owner
    }

    /// A key arrived on `console`.
    pub fn key_on(&mut self, console: usize) -> Route {
        match self.owner {
            Some(owner) if owner != console => {
                self.owner = Some(console);
                Route::TookOver
            }
            _ => {
                self.owner = Some(console);
                Route::Menu
            }
        }
    }

    /// The status line `console` shows instead of the menu's own: None on the owner (and
    /// on every console before the first key).
    pub fn notice_for(&self, console: usize) -> Option<String> {
        let owner = self.owner?;
        if owner == console {
            return None;
        }
        let name = self
            .names
            .get(owner)
            .map_or("another console", String::as_str);
        Some(format!(
            "menu in use on {name} - press any key to take it back"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Takeover {
        Takeover::new(vec!["ttyS0".into(), "tty0".into()])
    }

    #[test]
    fn nobody_owns_the_menu_before_the_first_key() {
        let takeover = two();
        assert_eq!(takeover.owner(), None);
        assert_eq!(takeover.notice_for(0), None);
        assert_eq!(takeover.notice_for(1), None);
    }

    #[test]
    fn the_first_key_takes_over_and_acts() {
        let mut takeover = two();
        assert_eq!(takeover.key_on(1), Route::Menu);
        assert_eq!(takeover.owner(), Some(1));
        assert_eq!(takeover.notice_for(1), None);
        assert_eq!(
            takeover.notice_for(0).as_deref(),
            Some("menu in use on tty0 - press any key to take it back")
        );
        // Further keys there drive the menu.
        assert_eq!(takeover.key_on(1), Route::Menu);
    }

    #[test]
    fn a_key_elsewhere_takes_it_back_without_acting() {
        let mut takeover = two();
        takeover.key_on(0);
        assert_eq!(takeover.key_on(1), Route::TookOver);
        assert_eq!(takeover.owner(), Some(1));
        assert!(takeover.notice_for(0).is_some_and(|n| n.contains("tty0")));
        assert_eq!(takeover.key_on(1), Route::Menu);
        assert_eq!(takeover.key_on(0), Route::TookOver);
        assert!(takeover.notice_for(1).is_some_and(|n| n.contains("ttyS0")));
    }

    #[test]
    fn a_single_console_always_drives() {
        let mut takeover = Takeover::new(vec!["ttyS0".into()]);
        assert_eq!(takeover.key_on(0), Route::Menu);
        assert_eq!(takeover.key_on(0), Route::Menu);
        assert_eq!(takeover.notice_for(0), None);
    }
}
