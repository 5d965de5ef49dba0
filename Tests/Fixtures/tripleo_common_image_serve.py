"""Runs tripleo-common 18.0.0's image-serve code (tripleo_common/image/image_export.py)
on a directory, for imageprep's compatibility tests. Needs the venv that
scripts/upstream-venv makes.

  export DIR REPO TAG MANIFEST CONFIG LAYER...  write an image as `openstack tripleo
                                                container image prepare` exports it
  parse DIR REPO                                print each tag's type map as upstream
                                                parses it, and whether upstream's tags
                                                list equals the one in DIR (JSON)
  delete DIR REPO TAG                           delete a tag as upstream does
"""
import hashlib
import json
import os
import sys
from urllib.parse import urlparse

from tripleo_common.image import image_export


def url(repo, tag):
    return urlparse('docker://localhost:8787/%s:%s' % (repo, tag))


def export(repo, tag, manifest_path, config_path, layer_paths):
    target = url(repo, tag)
    for path in layer_paths:
        with open(path, 'rb') as f:
            data = f.read()
        digest = 'sha256:' + hashlib.sha256(data).hexdigest()
        image_export.export_stream(target, {'digest': digest}, iter([data]))
    with open(manifest_path) as f:
        manifest = json.load(f)
    with open(config_path) as f:
        config_str = f.read()
    # As image_uploader's _copy_manifest_config_to_registry does before exporting.
    manifest['mediaType'] = image_export.MEDIA_MANIFEST_V2
    image_export.export_manifest_config(
        target, json.dumps(manifest, indent=3), image_export.MEDIA_MANIFEST_V2, config_str)


def parse(directory, repo):
    manifests = os.path.join(directory, 'v2', repo, 'manifests')
    maps = {}
    for name in sorted(os.listdir(manifests)):
        if name.endswith(image_export.TYPE_MAP_EXTENSION):
            tag = name[:-len(image_export.TYPE_MAP_EXTENSION)]
            maps[tag] = image_export.parse_type_map_file(os.path.join(manifests, name))
    tags_list = os.path.join(directory, 'v2', repo, 'tags', 'list')
    with open(tags_list, 'rb') as f:
        written = json.load(f)
    # Upstream's rebuild, compared as data (upstream lists tags in directory order).
    image_export.build_tags_list(repo)
    with open(tags_list, 'rb') as f:
        rebuilt = json.load(f)
    same = written['name'] == rebuilt['name'] and sorted(written['tags']) == sorted(rebuilt['tags'])
    print(json.dumps({'type_maps': maps, 'tags_list_matches': same}, sort_keys=True))


def main():
    command, directory = sys.argv[1], sys.argv[2]
    image_export.IMAGE_EXPORT_DIR = directory
    if command == 'export':
        export(sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7:])
    elif command == 'parse':
        parse(directory, sys.argv[3])
    elif command == 'delete':
        image_export.delete_image(url(sys.argv[3], sys.argv[4]))
    else:
        sys.exit('unknown command %s' % command)


if __name__ == '__main__':
    main()
