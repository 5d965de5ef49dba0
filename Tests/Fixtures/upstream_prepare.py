"""Plans heat environment files with tripleo-common's own code, as a dry run,
and prints the image parameters as JSON (sorted), for UpstreamComparisonTests.

Usage: upstream_prepare.py [--roles ROLES_FILE] TEMPLATE INSECURE_HOSTS ENV_FILE...

ROLES_FILE is read with yaml.safe_load, as tripleoclient reads --roles-file.
TEMPLATE is the catalog template ('-' for tripleo-common's own
tripleo_containers.yaml.j2); INSECURE_HOSTS is a comma-separated list.
Environment files merge as heatclient merges them (deep_update).

Two things are replaced so the run touches no network: which registries are
insecure (upstream probes each with an https request) is INSECURE_HOSTS, and
the inputs carry no tag_from_label lookups (upstream looks those up even in a
dry run, unless 'set' gives a tag).
"""
import json
import os
import sys

import yaml
from heatclient.common import template_utils
from tripleo_common.image import image_uploader
from tripleo_common.image import kolla_builder


def main():
    args = sys.argv[1:]
    roles_data = None
    if args[:1] == ['--roles']:
        with open(args[1]) as f:
            roles_data = yaml.safe_load(f)
        args = args[2:]
    template, insecure, env_files = args[0], args[1], args[2:]
    insecure_hosts = set(h for h in insecure.split(',') if h)

    def is_insecure_registry(cls, registry_host):
        return registry_host in insecure_hosts

    image_uploader.BaseImageUploader.is_insecure_registry = classmethod(
        is_insecure_registry)

    if template != '-':
        prepare = kolla_builder.container_images_prepare

        def with_template(**kwargs):
            kwargs['template_file'] = template
            kwargs['template_dir'] = os.path.dirname(template)
            return prepare(**kwargs)

        kolla_builder.container_images_prepare = with_template

    _, environment = template_utils.process_multiple_environments_and_files(
        env_files)
    params = kolla_builder.container_images_prepare_multi(
        environment, roles_data, dry_run=True)
    print(json.dumps(params, sort_keys=True, indent=1))


if __name__ == '__main__':
    main()
