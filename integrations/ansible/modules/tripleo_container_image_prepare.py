#!/usr/bin/python
# -*- coding: utf-8 -*-
# imageprep's drop-in for tripleo-ansible's tripleo_container_image_prepare module: the same
# name, options and result, with the work done by `imageprep prepare`. Put this directory
# first on ANSIBLE_LIBRARY (or install it where tripleo-ansible's module sits) and the
# deploy-time prepare runs imageprep instead of tripleo-common.

import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

ANSIBLE_METADATA = {
    'metadata_version': '1.1',
    'status': ['preview'],
    'supported_by': 'community'
}

DOCUMENTATION = '''
---
module: tripleo_container_image_prepare
short_description: Container Image Prepare, done by imageprep
description:
    - "Runs imageprep prepare for a stack environment's ContainerImagePrepare and
      returns the image parameters, as tripleo-ansible's module of the same name does.
      A role of roles_data whose <Role>ContainerImagePrepare is set in parameter_defaults
      gets its own images, returned as <Role>Parameters."
options:
    roles_data:
        description:
            - Roles data to filter images
        default: []
        type: list
    environment:
        description:
            - Stack environment containing ContainerImagePrepare parameter
        type: dict
        default: {}
    cleanup:
        description:
            - Cleanup behaviour
        type: str
        default: full
    dry_run:
        description:
            - Flag for dry run
        type: bool
        default: false
    log_file:
        description:
            - Log file
        type: str
    debug:
        description:
            - Flag to enable debug logging
        type: bool
        default: false
    imageprep:
        description:
            - The imageprep binary (default $IMAGEPREP_BINARY, else imageprep on PATH)
        type: str
    catalog:
        description:
            - The image catalog, master (tripleo-common 18.0.0's tripleo_containers.yaml.j2,
              what the deploy-time prepare renders) or stein
        type: str
        default: master
    image_serve_dir:
        description:
            - The directory the undercloud's image-serve httpd serves, where images for a
              push destination without a push API are written (imageprep's default
              /var/lib/image-serve, as on an undercloud)
        type: str
'''

EXAMPLES = '''
- name: Container image prepare
  tripleo_container_image_prepare:
      roles_data: {}
      environment: {}
      cleanup: full
      dry_run: False
'''

CLEANUP = ('full', 'partial', 'none')

# The options tripleo-ansible's module takes from openstack.cloud's
# openstack_full_argument_spec: accepted as there, and unused, as there.
OPENSTACK_OPTIONS = dict(
    cloud=dict(type='raw'),
    auth_type=dict(),
    auth=dict(type='dict', no_log=True),
    region_name=dict(),
    validate_certs=dict(type='bool', aliases=['verify']),
    ca_cert=dict(aliases=['cacert']),
    client_cert=dict(aliases=['cert']),
    client_key=dict(no_log=True, aliases=['key']),
    wait=dict(default=True, type='bool'),
    timeout=dict(default=180, type='int'),
    api_timeout=dict(type='int'),
    interface=dict(default='public', choices=['public', 'internal', 'admin'], aliases=['endpoint_type']),
    sdk_log_path=dict(),
    sdk_log_level=dict(default='INFO', choices=['INFO', 'DEBUG']),
)


def write_private(directory, name, value):
    """Writes value as JSON (which imageprep reads as YAML) to a file only the owner reads."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(value, f)
    return path


def error_message(stderr, rc):
    """imageprep's error: its 'Error: ' lines, without the prefix."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('Error: ')]
    if errors:
        start = lines.index(errors[0])
        text = '\n'.join(lines[start:])
        return text[len('Error: '):]
    if lines:
        return lines[-1]
    return 'imageprep prepare exited with status %d' % rc


def run_module():
    result = dict(success=False, changed=False, error="", params={})
    argument_spec = dict(
        roles_data=dict(type='list', default=[]),
        environment=dict(type='dict', default={}),
        cleanup=dict(type='str', default='full'),
        dry_run=dict(type='bool', default=False),
        log_file=dict(type='str'),
        debug=dict(type='bool', default=False),
        imageprep=dict(type='str'),
        catalog=dict(type='str', default='master', choices=['master', 'stein']),
        image_serve_dir=dict(type='str'),
    )
    argument_spec.update(OPENSTACK_OPTIONS)
    module = AnsibleModule(argument_spec, supports_check_mode=False)

    cleanup = module.params.get('cleanup')
    if cleanup not in CLEANUP:
        result['error'] = '--cleanup must be one of: %s' % ', '.join(CLEANUP)
        module.fail_json(msg="Error running container image prepare: %s" % result['error'], **result)

    binary = module.params.get('imageprep') or os.environ.get('IMAGEPREP_BINARY')
    if not binary:
        binary = module.get_bin_path('imageprep', required=False, opt_dirs=['/usr/local/bin', '/usr/bin'])
    if not binary:
        result['error'] = 'imageprep is not installed: install it (scripts/install, or the imageprep RPM) or give imageprep: PATH'
        module.fail_json(msg="Error running container image prepare: %s" % result['error'], **result)

    # The environment holds registry credentials: a private directory, removed after.
    directory = tempfile.mkdtemp(prefix='imageprep-module-')
    try:
        environment = write_private(directory, 'environment.json', module.params.get('environment') or {})
        roles = write_private(directory, 'roles_data.json', module.params.get('roles_data') or [])
        args = [binary, 'prepare', '-e', environment, '-r', roles, '--json', '--cleanup', cleanup,
                '--catalog', module.params.get('catalog'), '--progress', 'none']
        if module.params.get('dry_run'):
            # Upstream's dry run still looks tags up (tag_from_label) at the registries.
            args += ['--dry-run', '--discover']
        if module.params.get('image_serve_dir'):
            args += ['--image-serve-dir', module.params.get('image_serve_dir')]
        if module.params.get('log_file'):
            args += ['--log-file', module.params.get('log_file')]
        if module.params.get('debug'):
            args.append('--verbose')
        rc, stdout, stderr = module.run_command(args)
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    if rc != 0:
        result['error'] = error_message(stderr, rc)
        module.fail_json(msg="Error running container image prepare: %s" % result['error'], **result)
    try:
        prepared = json.loads(stdout)
    except ValueError:
        result['error'] = 'imageprep prepare --json printed no JSON: %s' % stdout[:200]
        module.fail_json(msg="Error running container image prepare: %s" % result['error'], **result)

    # What tripleo-common's container_images_prepare_multi returns: the image parameters and
    # their DockerInsecureRegistryAddress, then each role's own as <Role>Parameters.
    params = dict(prepared.get('parameters', {}))
    if prepared.get('insecure_registries'):
        params['DockerInsecureRegistryAddress'] = prepared['insecure_registries']
    for name, role_params in prepared.get('role_parameters', {}).items():
        params[name] = role_params
    result['success'] = True
    result['changed'] = True
    result['params'] = {"parameter_defaults": params}
    module.exit_json(**result)


def main():
    run_module()


if __name__ == '__main__':
    main()
