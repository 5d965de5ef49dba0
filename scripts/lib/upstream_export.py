"""Runs tripleo-common 18.0.0's own prepare for scripts/bench: kolla_builder's
container_images_prepare_multi with uploads (not a dry run), so a push
destination that answers no upload session (an image-serve httpd) gets the
images through tripleo-common's exporter (image_export), as on an undercloud.
Needs the venv scripts/upstream-venv makes.

Usage: upstream_export.py EXPORT_DIR TEMPLATE INSECURE_HOSTS ENV_FILE...

EXPORT_DIR replaces /var/lib/image-serve (the directory the httpd serves);
TEMPLATE is the catalog template; INSECURE_HOSTS (comma-separated) replaces
upstream's https probe of each registry, which would only add a refused
connection per host.
"""
import os
import sys

from heatclient.common import template_utils
from tripleo_common.image import image_export
from tripleo_common.image import image_uploader
from tripleo_common.image import kolla_builder


def main():
    export_dir, template, insecure, env_files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    image_export.IMAGE_EXPORT_DIR = export_dir
    insecure_hosts = set(h for h in insecure.split(',') if h)

    def is_insecure_registry(cls, registry_host):
        return registry_host in insecure_hosts

    image_uploader.BaseImageUploader.is_insecure_registry = classmethod(is_insecure_registry)
    prepare = kolla_builder.container_images_prepare

    def with_template(**kwargs):
        kwargs['template_file'] = template
        kwargs['template_dir'] = os.path.dirname(template)
        return prepare(**kwargs)

    kolla_builder.container_images_prepare = with_template
    _, environment = template_utils.process_multiple_environments_and_files(env_files)
    params = kolla_builder.container_images_prepare_multi(environment, None, dry_run=False)
    images = [v for v in params.values() if isinstance(v, str)]
    print('%d image parameters' % len(images))


if __name__ == '__main__':
    main()
