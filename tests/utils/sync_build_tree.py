# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mirror the collection's working tree into the directory ansible-test runs from.

Usage: sync_build_tree.py SOURCE_DIR BUILD_DIR

ansible-test only works from a path ending in ansible_collections/<namespace>/<name>.
The files mirrored are the ones git would commit (tracked plus untracked but not
ignored), so local scratch files never reach the tests. Files that are gone from
the source are deleted from the build tree. The build tree gets a git repository of
its own: ansible-test lists content with git when it finds one, and would otherwise
find the outer repository, which ignores the build tree and so lists nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

# Never mirrored, whatever .gitignore says.
EXCLUDED_TOP_LEVEL = ('.git', '.venv', '.build')
# Kept in the build tree although they are not in the source: ansible-test's own state.
PRESERVED_IN_BUILD = ('.git', os.path.join('tests', 'output'))


def source_files(source_dir):
    """Return the relative paths of the files to mirror."""
    try:
        listing = subprocess.run(
            ['git', '-C', source_dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
            check=True, capture_output=True,
        ).stdout.decode('utf-8')
        candidates = [path for path in listing.split('\0') if path]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout (for example an unpacked archive): take everything.
        candidates = []
        for root, dir_names, file_names in os.walk(source_dir):
            relative_root = os.path.relpath(root, source_dir)
            if relative_root == '.':
                dir_names[:] = [name for name in dir_names if name not in EXCLUDED_TOP_LEVEL]
            dir_names[:] = [name for name in dir_names if name != '__pycache__']
            candidates.extend(os.path.normpath(os.path.join(relative_root, name)) for name in file_names)

    files = set()
    for path in candidates:
        if path.split('/', 1)[0] in EXCLUDED_TOP_LEVEL:
            continue
        # A tracked file deleted in the working tree is listed by git but has nothing to copy.
        if os.path.lexists(os.path.join(source_dir, path)):
            files.add(path)
    return files


def is_up_to_date(source, target):
    """Return True when target already holds the same content as source."""
    try:
        source_stat = os.lstat(source)
        target_stat = os.lstat(target)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(source_stat.st_mode) or stat.S_ISLNK(target_stat.st_mode):
        return stat.S_ISLNK(target_stat.st_mode) and os.readlink(source) == os.readlink(target)
    return (stat.S_ISREG(target_stat.st_mode)
            and source_stat.st_size == target_stat.st_size
            and int(source_stat.st_mtime) == int(target_stat.st_mtime)
            and stat.S_IMODE(source_stat.st_mode) == stat.S_IMODE(target_stat.st_mode))


def copy_file(source, target):
    """Copy one file or symlink, replacing whatever is at target."""
    if os.path.lexists(target) or os.path.islink(target):
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target)


def is_preserved(relative_path):
    """Return True for paths in the build tree that belong to the tools, not the source."""
    return any(relative_path == kept or relative_path.startswith(kept + os.sep) for kept in PRESERVED_IN_BUILD)


def remove_stale(build_dir, wanted):
    """Delete files and empty directories in build_dir that are not in wanted; return how many files went."""
    removed = 0
    for root, dir_names, file_names in os.walk(build_dir, topdown=True):
        relative_root = os.path.relpath(root, build_dir)
        relative_root = '' if relative_root == '.' else relative_root
        dir_names[:] = [name for name in dir_names if not is_preserved(os.path.join(relative_root, name))]
        for name in file_names + [name for name in dir_names if os.path.islink(os.path.join(root, name))]:
            relative_path = os.path.join(relative_root, name)
            if relative_path not in wanted and not is_preserved(relative_path):
                os.unlink(os.path.join(root, name))
                removed += 1
    for root, dir_names, file_names in os.walk(build_dir, topdown=False):
        relative_root = os.path.relpath(root, build_dir)
        if relative_root != '.' and not is_preserved(relative_root) and not os.listdir(root):
            os.rmdir(root)
    return removed


def main():
    """Mirror SOURCE_DIR into BUILD_DIR."""
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    source_dir, build_dir = (os.path.abspath(path) for path in sys.argv[1:])
    if build_dir == source_dir or source_dir.startswith(build_dir + os.sep):
        sys.exit('refusing to mirror %s into %s' % (source_dir, build_dir))

    wanted = source_files(source_dir)
    os.makedirs(build_dir, exist_ok=True)
    removed = remove_stale(build_dir, wanted)
    copied = 0
    for relative_path in sorted(wanted):
        source = os.path.join(source_dir, relative_path)
        target = os.path.join(build_dir, relative_path)
        if not is_up_to_date(source, target):
            copy_file(source, target)
            copied += 1

    if not os.path.isdir(os.path.join(build_dir, '.git')):
        subprocess.run(['git', 'init', '--quiet', build_dir], check=True)
    print('build tree %s: %d files, %d copied, %d removed' % (build_dir, len(wanted), copied, removed))


if __name__ == '__main__':
    main()
