//! The stored hashes as C2SP tlog-tiles: which tiles a tree has, their paths, their bytes.
//!
//! A tile at tile level `L`, index `N`, holds up to 256 consecutive hashes of tree level
//! `8L`: the subtrees `256N .. 256N + width` of that level (c2sp.org/tlog-tiles, "Merkle
//! Tree"). Every one of those is a complete subtree, so each is one stored hash
//! ([`super::stored_hash_index`]`(8L, 256N + i)`): a tile is a projection of the stored
//! hash sequence, and a log that keeps stored hashes can serve tiles without recomputing.

use super::storage::{check_size, stored_hash_index};
use super::{HashReader, LogError};

/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Tree levels per tile level: a tile spans a subtree of height 8.
pub const TILE_HEIGHT: u8 = 8;

/// One tile of the tree: full (width 256) or the partial rightmost tile of its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// The tile level `L`: the tile holds hashes of tree level `8L`.
    pub level: u8,
    /// The tile's index `N` within its level.
    pub index: u64,
    /// How many hashes it holds, 1 to 256.
    pub width: u16,
}

impl Tile {
    /// Whether the tile is full (256 hashes).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile's path below the log's prefix: `tile/<L>/<N>[.p/<W>]`, with `N` in
    /// zero-padded groups of three digits, all but the last prefixed with `x`.
    pub fn path(&self) -> String {
        let mut groups = vec![format!("{:03}", self.index % 1000)];
        let mut n = self.index / 1000;
        while n > 0 {
            groups.push(format!("x{:03}", n % 1000));
            n /= 1000;
        }
        groups.reverse();
        let mut path = format!("tile/{}/{}", self.level, groups.join("/"));
        if !self.is_full() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// The stored hash indexes of the tile's hashes, left to right.
    pub fn stored_indexes(&self) -> impl Iterator<Item = u64> + use<> {
        let tree_level = self.level * TILE_HEIGHT;
        let first = self.index * TILE_WIDTH;
        (0..u64::from(self.width)).map(move |i| stored_hash_index(tree_level, first + i))
    }
}

/// The tiles that change when the tree grows from `old_size` to `new_size` leaves: every
/// tile, full or partial, that the larger tree has and the smaller one had not in this form.
/// With `old_size` 0, all the tiles of the tree.
pub fn tiles_to_publish(old_size: u64, new_size: u64) -> Result<Vec<Tile>, LogError> {
    check_size(new_size)?;
    if old_size > new_size {
        return Err(LogError::SizeOrder {
            old: old_size,
            new: new_size,
        });
    }
    let mut tiles = Vec::new();
    let mut level = 0u8;
    loop {
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        if shift >= 64 || new_size >> shift == 0 {
            break;
        }
        // Hashes of tree level 8L in each tree.
        let old_hashes = old_size >> shift;
        let new_hashes = new_size >> shift;
        if old_hashes != new_hashes {
            for index in old_hashes / TILE_WIDTH..new_hashes / TILE_WIDTH {
                tiles.push(Tile {
                    level,
                    index,
                    width: TILE_WIDTH as u16,
                });
            }
            let width = new_hashes % TILE_WIDTH;
            if width > 0 {
                tiles.push(Tile {
                    level,
                    index: new_hashes / TILE_WIDTH,
                    width: width as u16,
                });
            }
        }
        level += 1;
    }
    Ok(tiles)
}

/// The bytes of `tile`: its hashes concatenated, 32 bytes each, read in one call.
pub fn read_tile<R: HashReader + ?Sized>(reader: &R, tile: &Tile) -> Result<Vec<u8>, LogError> {
    let indexes: Vec<u64> = tile.stored_indexes().collect();
    let hashes = reader.read_hashes(&indexes)?;
    if hashes.len() != indexes.len() {
        return Err(LogError::StorageShort {
            asked: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        let tile = |level, index, width| Tile {
            level,
            index,
            width,
        };
        assert_eq!(tile(0, 1_234_067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(tile(1, 5, 17).path(), "tile/1/005.p/17");
        assert_eq!(tile(2, 0, 1).path(), "tile/2/000.p/1");
        assert_eq!(tile(0, 1000, 256).path(), "tile/0/x001/000");
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_spec_lists() {
        // c2sp.org/tlog-tiles: "273 full level 0 tiles, one partial level 0 tile of width
        // 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial
        // level 2 tile of width 1".
        let tiles = tiles_to_publish(0, 70_000).expect("in range");
        let count = |level, full| {
            tiles
                .iter()
                .filter(|t| t.level == level && t.is_full() == full)
                .count()
        };
        assert_eq!(count(0, true), 273);
        assert_eq!(count(1, true), 1);
        assert_eq!(count(2, true), 0);
        let partial: Vec<_> = tiles.iter().filter(|t| !t.is_full()).collect();
        assert_eq!(
            partial,
            [
                &Tile {
                    level: 0,
                    index: 273,
                    width: 112
                },
                &Tile {
                    level: 1,
                    index: 1,
                    width: 17
                },
                &Tile {
                    level: 2,
                    index: 0,
                    width: 1
                },
            ]
        );
        // And the spec's second example: 256 leaves are one full level 0 tile and a
        // partial level 1 tile of width 1.
        assert_eq!(
            tiles_to_publish(0, 256).expect("in range"),
            [
                Tile {
                    level: 0,
                    index: 0,
                    width: 256
                },
                Tile {
                    level: 1,
                    index: 0,
                    width: 1
                },
            ]
        );
    }
}
